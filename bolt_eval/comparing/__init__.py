"""`bolt-eval compare`: finished runs -> one comparison (tables, plots) with paired deltas.

    runs.py        read run folders, per-item headline values, discovery with filters
    comparable.py  which config fields must agree for runs to share a column
    table.py       the Comparison: cells with CIs and paired deltas, breakdowns, references
    reference.py   published numbers from results/reference/NAME.yaml, with their source
    render.py      terminal / markdown / CSV / JSON / HTML
Plots live in bolt_eval/plots.py; the CI gate in bolt_eval/gate.py.
"""

from __future__ import annotations

from pathlib import Path

from bolt_eval.comparing.runs import Filters, RunData, discover, load_run
from bolt_eval.types import UserError

__all__ = ["Filters", "RunData", "collect_runs", "load_run"]


def collect_runs(paths: list[str], root: str | Path = "results", filters: Filters = Filters(),
                 rows: list[str] | None = None, with_items: bool = True) -> tuple[list[RunData], list[str]]:
    """The runs to compare and notes on what was left out.

    `paths` are run folders or folders of runs (e.g. results/baselines/smoke), kept in the
    order given; without paths, every finished run under `root` that matches `filters`,
    ordered by when each model was first evaluated (a training run's stages in order).
    `rows` picks models by label and sets their order. `with_items=False` leaves the
    per-item values to the caller (`runs.attach_items`), e.g. for the runs it will use."""
    notes: list[str] = []
    folders: list[Path] = []
    for p in map(Path, paths):
        if (p / "manifest.json").is_file():
            folders.append(p)
        elif p.is_dir():
            found, skipped = discover(p, filters)
            folders += found
            notes += skipped
        else:
            raise UserError(f"{p}: no such run folder (expected a folder with manifest.json, or a folder of runs)")
    if not paths:
        folders, notes = discover(root, filters)
    runs = [load_run(f, with_items) for f in folders]
    if filters.tasks:
        runs = [r for r in runs if r.task in filters.tasks]
    if not paths:
        first: dict[str, tuple[str, int]] = {}
        for r in runs:
            # start time (to the second), then when the manifest was last written (the end)
            key = (r.started, (r.dir / "manifest.json").stat().st_mtime_ns)
            first[r.label] = min(first.get(r.label, key), key)
        runs.sort(key=lambda r: (first[r.label], r.label))
    if rows:
        missing = [lb for lb in rows if lb not in {r.label for r in runs}]
        if missing:
            known = ", ".join(sorted({r.label for r in runs}))
            raise UserError(f"--rows: no runs of {', '.join(missing)}; models found: {known}")
        runs = sorted((r for r in runs if r.label in rows), key=lambda r: rows.index(r.label))
    if not runs:
        raise UserError("no runs to compare")
    return runs, notes
