"""Long-CoT format adoption: does the model think first, then answer, in its preset's form?

BOLT's point (Pang et al., arXiv 2502.03860, Sec. 2) is that stage 2 teaches a model to
write internal thoughts before its external solution. Adoption measures it on any run:
the share of responses (every turn of every sample) whose thoughts are opened or closed
by the preset's tags and closed (`split_response` finds a closing tag), with a non-empty
solution after them; plus mean lengths. Characters are counted on the split parts; tokens
are the backend's completion tokens of the whole response (the split is not tokenised).

It goes into each run's summary.json under `adoption` (beside, never in, the headline)
and is shown by `bolt-eval compare` and in the trajectory.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

from tabulate import tabulate

from bolt_eval.thoughts import get_delimiters


def adoption(records: Sequence[dict[str, Any]], preset: str) -> dict[str, Any] | None:
    """Adoption of the responses in run records (samples.jsonl rows); None when the preset
    has no thought delimiters (`none`) or there is no response."""
    if get_delimiters(preset) is None:
        return None
    turns = [t for r in records for o in r["outputs"] for t in o["turns"]]
    if not turns:
        return None
    n = len(turns)
    closed = [t["thoughts"] is not None and t["thoughts_closed"] for t in turns]
    solved = [bool(t["solution"].strip()) for t in turns]
    return {
        "preset": preset, "n": n,
        "rate": sum(c and s for c, s in zip(closed, solved)) / n,
        "closed_thoughts": sum(closed) / n,
        "non_empty_solution": sum(solved) / n,
        "cut_by_length": sum(t["finish_reason"] == "length" for t in turns) / n,
        "thought_chars_mean": sum(len(t["thoughts"] or "") for t in turns) / n,
        "solution_chars_mean": sum(len(t["solution"]) for t in turns) / n,
        "completion_tokens_mean": sum(t["completion_tokens"] for t in turns) / n,
    }


def of_run(folder: str | Path) -> dict[str, Any] | None:
    """Adoption of a run folder from its records (runs made before adoption was recorded)."""
    folder = Path(folder)
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    lines = (folder / "samples.jsonl").read_text(encoding="utf-8").splitlines()
    return adoption([json.loads(x) for x in lines if x.strip()], manifest["config"].get("thoughts", "none"))


def cell(a: dict[str, Any] | None) -> str:
    if not a:
        return "-"
    return (f"{100 * a['rate']:.1f}% of {a['n']} (thoughts {a['thought_chars_mean']:.0f} ch, "
            f"solution {a['solution_chars_mean']:.0f} ch, {a['completion_tokens_mean']:.0f} tok)")


def table(rows: Sequence[tuple[str, str, dict[str, Any] | None]], fmt: str = "simple") -> str | None:
    """model x task: adoption rate, n, mean lengths; None when no run has a thoughts preset."""
    if not any(a for _, _, a in rows):
        return None
    labels = list(dict.fromkeys(lb for lb, _, _ in rows))
    tasks = list(dict.fromkeys(t for _, t, _ in rows))
    cells = {(lb, t): a for lb, t, a in rows}
    body = [[lb] + [cell(cells.get((lb, t))) for t in tasks] for lb in labels]
    return tabulate(body, headers=["format adoption"] + tasks, tablefmt=fmt, disable_numparse=True)
