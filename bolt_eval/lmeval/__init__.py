"""lm-eval (EleutherAI lm-evaluation-harness 0.4.x) inside bolt-eval.

Tasks named `lm-eval:<task>` (any lm-eval task, group or tag: `mmlu`, `arc_challenge`,
`leaderboard_ifeval`, `mgsm_direct`) run through `lm_eval.simple_evaluate` with the model
and backend of the bolt-eval run, and are stored as bolt-eval runs, so `compare` shows them
beside the five benchmarks. This is how "Structure, not content" (Li et al., arXiv
2502.07374) measures what long-CoT training keeps of a model's other skills (its Table 3).
The other way round, `export-lm-eval` writes bolt-eval's exactly-scored tasks as lm-eval
task folders. Nothing here imports lm_eval or torch at import time.
"""

from __future__ import annotations

PREFIX = "lm-eval:"


def is_lm_eval(task: str) -> bool:
    """Whether a task name is routed to lm-eval (`lm-eval:<lm-eval task name>`)."""
    return task.startswith(PREFIX)
