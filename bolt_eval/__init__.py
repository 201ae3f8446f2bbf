"""bolt-eval: an evaluation harness for long chain-of-thought models.

Kept import-free on purpose: `bolt-eval --help` must not pay for torch.
"""

from typing import Any

__version__ = "0.1.0"

_FRAMES = ("runs_df", "compare_df", "trajectory_df")  # results as pandas DataFrames (bolt_eval/frames.py)


def __getattr__(name: str) -> Any:
    """`bolt_eval.runs_df` and friends, imported (with pandas) only when first used."""
    if name in _FRAMES:
        from bolt_eval import frames

        return getattr(frames, name)
    raise AttributeError(f"module 'bolt_eval' has no attribute {name!r}")
