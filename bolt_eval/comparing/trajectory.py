"""`bolt-eval compare --trajectory DIR`: a training run's checkpoints in training order.

Reads `DIR/trajectory.jsonl` (written by the training stages and by `bolt-eval watch`),
loads each entry's run folders, and builds the ordinary Comparison (`table.compare`):
rows are init, the SFT steps, then the online iterations, each cell with its 95% CI and
its paired delta to `init` (the first row when there is no init). The Figure-6 plot is
`plots.trajectory` on that comparison (x: the checkpoints in this order, one panel per
benchmark, CI bands); the HTML report embeds it like every other compare plot. Format
adoption per checkpoint follows the headline table.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bolt_eval.comparing.runs import RunData, load_run
from bolt_eval.comparing.table import Comparison, compare
from bolt_eval.types import UserError


def trajectory_entries(folder: str | Path) -> list[dict[str, Any]]:
    from bolt_eval.training.trajectory import Trajectory

    traj = Trajectory(folder)
    entries = traj.entries()
    if not entries:
        raise UserError(f"{traj.path}: no trajectory yet; `bolt-eval train sft --recipe R` or "
                        f"`bolt-eval watch {folder} --suite S` writes one")
    return entries


def run_folder(entry: dict[str, Any], run_id: str, folder: Path) -> Path:
    """The entry's run folder; a results root moved together with the output folder is
    found beside the trajectory."""
    for root in (Path(entry["results"]), folder / "results"):
        if (root / run_id / "summary.json").is_file():
            return root / run_id
    raise UserError(f"trajectory entry {entry['label']!r}: run {run_id} not found under {entry['results']} "
                    f"(nor {folder / 'results'}); restore the results folder, or re-evaluate it by removing "
                    "its line from trajectory.jsonl and running the stage or watch again")


def trajectory_runs(folder: str | Path, with_items: bool = True) -> tuple[list[RunData], list[dict[str, Any]]]:
    folder = Path(folder)
    entries = trajectory_entries(folder)
    base = folder if folder.suffix != ".jsonl" else folder.parent
    runs = [load_run(run_folder(e, rid, base), with_items) for e in entries for rid in e["run_ids"]]
    return runs, entries


def trajectory_comparison(folder: str | Path, allow_mixed: bool = False, rounds: int = 1000,
                          reference: Any = None) -> tuple[Comparison, list[RunData]]:
    """The comparison of the trajectory's checkpoints (baseline: init) and its runs;
    `reference` (comparing.reference) adds published rows beside them."""
    runs, entries = trajectory_runs(folder)
    init = next((e["label"] for e in entries if e["stage"] == "init"), None)
    cmp = compare(runs, init, allow_mixed, reference, rounds=rounds)
    cmp.notes.append("Rows in training order: " + " -> ".join(
        f"{e['label']}" + (" (LoRA, merged)" if e.get("lora") else "") for e in entries))
    return cmp, runs
