"""BOLT training (Pang et al., arXiv 2502.03860), stage by stage, from a recipe.

queries.py (curation) -> bootstrap.py (stage 1) -> sft.py (stage 2) -> online.py (stage 3);
rewards.py (outcome reward models), autoeval.py (every checkpoint through `evaluate()`),
pipeline.py (all of it). Each stage reads its inputs from, and writes its outputs with a
manifest to, `<output_dir>/<stage>/` (workdir.py), and resumes from what is there.
"""
