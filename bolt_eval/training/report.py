"""The end-of-pipeline report: the paper's figures for the user's own run.

    <output_dir>/report/report.md    trajectory table (deltas to init, paired CIs), format
                                     adoption and lengths per checkpoint, mean ORM reward per
                                     online iteration, and published rows with --reference
    <output_dir>/report/report.html  the same with the plots inline
    <output_dir>/report/figure5.*    grouped bars: init vs SFT vs final, per benchmark
    <output_dir>/report/figure6.*    the trajectory: every evaluated checkpoint in order

Everything is read from what the stages wrote (trajectory.jsonl, the run store, the online
manifest); nothing is evaluated here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bolt_eval.store import write_atomic


def write_report(output_dir: str | Path, reference: str | None = None, rounds: int = 1000) -> Path:
    from bolt_eval.adoption import table as adoption_table
    from bolt_eval.comparing import render
    from bolt_eval.comparing.reference import load_reference
    from bolt_eval.comparing.table import compare
    from bolt_eval.comparing.trajectory import trajectory_comparison, trajectory_entries
    from bolt_eval.plots import grouped_bars, to_bytes, trajectory

    out = Path(output_dir)
    folder = out / "report"
    folder.mkdir(parents=True, exist_ok=True)
    ref = load_reference(reference) if reference else None
    cmp, runs = trajectory_comparison(out, rounds=rounds, reference=ref)
    entries = trajectory_entries(out)
    ends = _stage_ends(entries)
    fig5 = compare([r for r in runs if r.label in ends], ends[0], rounds=rounds)
    figures = [("figure5", "Figure 5: init vs SFT vs final, per benchmark", grouped_bars(fig5)),
               ("figure6", "Figure 6: the training trajectory", trajectory(cmp))]
    for stem, _, fig in figures:
        for fmt in ("png", "svg"):
            (folder / f"{stem}.{fmt}").write_bytes(to_bytes(fig, fmt))
    sections = [f"# Training report: {out.name}", render.to_text(cmp, "markdown", breakdowns=False)]
    adoption = adoption_table([(r.label, r.task, r.summary.get("adoption")) for r in runs], fmt="github")
    if adoption:
        sections += ["## Format adoption and lengths per checkpoint", adoption]
    if online := _online_rewards(out):
        sections += ["## Mean ORM reward per online iteration", online]
    sections += ["## Figures", "![Figure 5](figure5.png)", "![Figure 6](figure6.png)"]
    markdown = "\n\n".join(sections) + "\n"
    write_atomic(folder / "report.md", markdown)
    images = [(title, "image/png", to_bytes(fig, "png")) for _, title, fig in figures]
    write_atomic(folder / "report.html", render.to_html(cmp, images))
    return folder / "report.md"


def _stage_ends(entries: list[dict[str, Any]]) -> list[str]:
    """The labels of init, the last SFT checkpoint and the last checkpoint overall."""
    labels = [e["label"] for e in entries]
    picks = [next((e["label"] for e in entries if e["stage"] == "init"), labels[0])]
    picks += [e["label"] for e in entries if e["stage"] == "sft"][-1:]
    picks.append(labels[-1])
    return list(dict.fromkeys(picks))


def _online_rewards(out: Path) -> str | None:
    path = out / "online" / "manifest.json"
    if not path.is_file():
        return None
    from bolt_eval.training.online import summary_table

    manifest = json.loads(path.read_text(encoding="utf-8"))
    held = {int(k): v for k, v in (manifest.get("held_out_reward") or {}).items()}
    return summary_table(held, manifest.get("iterations") or [])
