"""The table `bolt-eval train ablation` prints, in the layout of Table 2 of "structure, not
content" (Li et al., arXiv 2502.07374): conditions as rows (the untrained model first, then
the unperturbed set, then each perturbation), benchmarks as columns.

Each cell is the ordinary comparison cell (`comparing.table.compare`): the headline with its
95% CI and the paired delta to the unperturbed condition with its paired-bootstrap CI, over
the evaluation items both rows answered. With a reference (`--reference structure-not-content`)
the paper's rows follow, marked with their source. Below it a second table says what each
condition did: how the transform changed the set, training steps and loss, seconds.

    <output_dir>/ablation/table.md     both tables, the legend and the notes
    <output_dir>/ablation/table.json   compare's JSON (one record per row x benchmark) plus
                                       the per-condition records
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tabulate import tabulate

from bolt_eval.store import write_atomic

def ordered(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """untrained, the first unperturbed condition (the baseline), then the rest as listed."""
    first = next(i for i, r in enumerate(records) if r["kind"] == "none")
    rest = [r for i, r in enumerate(records) if i != first and r["kind"] is not None]
    return [r for r in records if r["kind"] is None] + [records[first]] + rest


def build(records: list[dict[str, Any]], folder: Path, reference: Any = None, rounds: int = 1000) -> Any:
    """The Comparison of the rows' runs, baseline: the unperturbed condition."""
    from bolt_eval.comparing.runs import load_run
    from bolt_eval.comparing.table import compare

    rows = ordered(records)
    runs = [load_run(folder / "results" / rid) for r in rows for rid in r["run_ids"]]
    cmp = compare(runs, baseline=rows[1]["label"], reference=reference, rounds=rounds)
    cmp.notes.append("Rows: the untrained model, the unperturbed SFT set (the baseline of every Δ), then each "
                     "perturbed set, each trained with the same recipe (Li et al., arXiv 2502.07374, Table 2 layout)")
    return cmp


def conditions_table(records: list[dict[str, Any]], fmt: str = "github") -> str:
    """What each condition did: its transform's counts, training, and time."""
    out = []
    for r in ordered(records):
        sft = r.get("sft") or {}
        loss = (f"{sft['first_loss']:.3f} -> {sft['last_loss']:.3f}"
                if sft.get("first_loss") is not None and sft.get("last_loss") is not None else "-")
        out.append([r["label"], r["kind"] or "-", "-" if r["ratio"] is None else f"{100 * r['ratio']:g}%",
                    r["method"] or "-", _changed(r.get("perturb")), sft.get("steps", "-"), loss,
                    sft.get("train_seconds", "-"), r.get("eval_seconds", "-")])
    return tabulate(out, headers=["row", "kind", "ratio", "method", "what the transform changed", "steps",
                                  "loss first -> last", "train s", "eval s"], tablefmt=fmt, disable_numparse=True)


def _changed(report: dict[str, Any] | None) -> str:
    """The transform's report in a few words: rows changed and skipped, its own counts."""
    if not report:
        return "-"
    if report.get("kind") == "none":
        return f"nothing ({report.get('rows')} rows as they are)"
    text = f"{report.get('changed')}/{report.get('rows')} rows changed"
    if report.get("skipped"):
        text += f", {len(report['skipped'])} skipped"
    details = report.get("details") or {}
    return text + "".join(f"; {k.replace('_', ' ')} {v}" for k, v in details.items())


def write_table(recipe: Any, folder: Path, records: list[dict[str, Any]], reference: Any = None) -> Path:
    from bolt_eval.comparing import render

    cmp = build(records, folder, reference)
    markdown = "\n\n".join([
        f"# Ablation: {recipe.name}", render.to_text(cmp, "markdown", breakdowns=False).strip(),
        "## Conditions", conditions_table(records)]) + "\n"
    write_atomic(folder / "table.md", markdown)
    data = json.loads(render.to_json(cmp))
    data["conditions"] = [{k: v for k, v in r.items() if k != "key"} for r in ordered(records)]
    write_atomic(folder / "table.json", json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    return folder / "table.md"
