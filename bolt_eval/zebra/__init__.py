"""ZebraLogic core: puzzle records, a solver, a seeded generator, the prompt and the grader."""
