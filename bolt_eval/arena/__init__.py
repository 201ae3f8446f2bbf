"""Arena-Hard's scoring beyond the task file (`bolt_eval/benchmarks/arena_hard.py`): battles,
style features and the Bradley-Terry fit with style control (`style_control`), and several
checkpoints fitted together against one baseline (`joint`, `bolt-eval arena-fit`)."""
