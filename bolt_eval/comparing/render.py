"""A Comparison as text: terminal and markdown tables (tabulate), CSV and JSON (one long
pandas frame: a row per checkpoint x benchmark, then per breakdown group), and a
self-contained HTML page with the plots embedded as data URIs.

A cell reads `45.0 [40.1, 50.2] Δ +3.2 [+1.0, +5.4]`: the headline, its 95% CI, and
the paired delta to the baseline with its paired-bootstrap CI. Judged cells with
missing verdicts add `judged 6/8`; a run that did not end `complete` adds its status;
† marks a cell whose run differs from the baseline's in more than the model.
"""

from __future__ import annotations

import html
import json
import math
from typing import Any

from tabulate import tabulate

from bolt_eval.comparing.runs import display_name
from bolt_eval.comparing.table import MIXED_MARK, NOISE_MARK, Breakdown, Cell, Comparison

FORMATS = ("terminal", "markdown", "csv", "json", "html")
_TABLEFMT = {"terminal": "simple", "markdown": "github", "html": "html"}


def _f(x: float | None, unit: str, sign: bool = False) -> str:
    if x is None or math.isnan(x):
        return "n/a"
    digits = 1 if unit == "%" else 2
    return f"{x:+.{digits}f}" if sign else f"{x:.{digits}f}"


def cell_text(c: Cell | None) -> str:
    if c is None:
        return "-"
    text = _f(c.mean, c.unit)
    if c.lo is not None and c.hi is not None:
        text += f" [{_f(c.lo, c.unit)}, {_f(c.hi, c.unit)}]"
    if c.delta is not None:
        d = c.delta
        text += f" Δ {_f(d.mean, c.unit, True)} [{_f(d.lo, c.unit, True)}, {_f(d.hi, c.unit, True)}]"
    if c.judged and c.judged[0] < c.judged[1]:
        text += f" judged {c.judged[0]}/{c.judged[1]}"
    if c.status != "complete" and not c.reference:
        text += f" ({c.status})"
    return text + (f" {NOISE_MARK}" if c.judge_noise else "") + (f" {MIXED_MARK}" if c.mixed else "")


def headline_table(cmp: Comparison, fmt: str = "markdown") -> str:
    headers = ["model"] + [cmp.column_title(t) for t in cmp.tasks]
    rows = []
    for label in cmp.row_labels():
        name = f"{label} (baseline)" if label == cmp.baseline else label
        rows.append([name] + [cell_text(cmp.cells.get((label, t))) for t in cmp.tasks])
    return tabulate(rows, headers=headers, tablefmt=_TABLEFMT[fmt], disable_numparse=True)


def breakdown_table(cmp: Comparison, b: Breakdown, fmt: str = "markdown") -> str:
    labels = [lb for lb in cmp.labels if any(lb in v for v in b.values.values())]
    base = cmp.baseline
    rows = []
    for group in b.groups:
        row = [group]
        for lb in labels:
            v = b.values[group].get(lb)
            if v is None:
                row.append("-")
                continue
            text = f"{_f(v[0], b.unit)} [{_f(v[1], b.unit)}, {_f(v[2], b.unit)}]"
            bv = b.values[group].get(base)
            if lb != base and bv is not None:
                text += f" Δ {_f(v[0] - bv[0], b.unit, True)}"
            row.append(text)
        rows.append(row)
    return tabulate(rows, headers=[b.key.removeprefix("by_")] + labels, tablefmt=_TABLEFMT[fmt], disable_numparse=True)


def breakdown_title(b: Breakdown) -> str:
    unit = " (%)" if b.unit == "%" else ""
    return f"{display_name(b.task)}: {b.metric.replace('_', ' ')}{unit} by {b.key.removeprefix('by_').replace('_', ' ')}"


def _legend(cmp: Comparison) -> list[str]:
    lines = [f"Cells: headline [95% CI] Δ paired delta to {cmp.baseline!r} [95% paired-bootstrap CI, "
             f"{cmp.rounds} rounds over items]."]
    lines += [f"{display_name(t)} judge: {j}" for t, j in cmp.judges.items()]
    return lines + cmp.notes


def to_text(cmp: Comparison, fmt: str = "markdown", breakdowns: bool = True) -> str:
    """The terminal or markdown report: headline table, legend and notes, breakdowns."""
    md = fmt == "markdown"
    out = ["## Comparison" if md else "Comparison", "", headline_table(cmp, fmt), ""]
    out += [f"- {line}" if md else line for line in _legend(cmp)]
    if breakdowns:
        for b in cmp.breakdowns:
            out += ["", f"### {breakdown_title(b)}" if md else breakdown_title(b), "", breakdown_table(cmp, b, fmt)]
        if cmp.breakdowns:
            out += ["", "Breakdown Δ: difference of means to the baseline (no paired CI per group)."]
    return "\n".join(out) + "\n"


def frame(cmp: Comparison) -> Any:
    """One long pandas DataFrame: headline rows, then breakdown rows (display units)."""
    import pandas as pd

    rows: list[dict[str, Any]] = []
    for label in cmp.row_labels():
        for task in cmp.tasks:
            c = cmp.cells.get((label, task))
            if c is None:
                continue
            d = c.delta
            rows.append({
                "kind": "headline", "model": label, "baseline": label == cmp.baseline, "reference": c.reference,
                "task": task, "group": None, "metric": c.metric, "unit": c.unit, "mean": c.mean, "lo": c.lo,
                "hi": c.hi, "n": c.n, "delta": d.mean if d else None, "delta_lo": d.lo if d else None,
                "delta_hi": d.hi if d else None, "judged": c.judged[0] if c.judged else None,
                "total": c.judged[1] if c.judged else None, "judge": cmp.judges.get(task), "status": c.status,
                "mixed": c.mixed, "judge_noise": c.judge_noise, "run": c.run_dir,
            })
    for b in cmp.breakdowns:
        for group in b.groups:
            for label, (mean, lo, hi) in b.values[group].items():
                base = b.values[group].get(cmp.baseline)
                rows.append({"kind": b.key, "model": label, "baseline": label == cmp.baseline, "reference": False,
                             "task": b.task, "group": group, "metric": b.metric, "unit": b.unit, "mean": mean,
                             "lo": lo, "hi": hi, "delta": mean - base[0] if base and label != cmp.baseline else None})
    return pd.DataFrame(rows)


def to_csv(cmp: Comparison) -> str:
    return str(frame(cmp).to_csv(index=False, float_format="%.6g"))


def to_json(cmp: Comparison) -> str:
    records = json.loads(frame(cmp).to_json(orient="records", double_precision=6))
    return json.dumps({"baseline": cmp.baseline, "models": cmp.labels, "references": cmp.references,
                       "tasks": cmp.tasks, "judges": cmp.judges, "notes": cmp.notes, "rounds": cmp.rounds,
                       "rows": records}, indent=2, ensure_ascii=False) + "\n"


def to_html(cmp: Comparison, images: list[tuple[str, str, bytes]]) -> str:
    """A page that needs nothing else: tables, notes, and (title, mime, bytes) images inline."""
    import base64

    parts = ["<!doctype html><html><head><meta charset='utf-8'><title>bolt-eval compare</title><style>",
             "body{font-family:sans-serif;margin:2em;max-width:1400px}table{border-collapse:collapse;margin:1em 0}",
             "td,th{border:1px solid #ccc;padding:4px 8px;font-size:13px}th{background:#f3f3f3}",
             "img{max-width:100%;display:block;margin:1em 0}</style></head><body>",
             "<h1>bolt-eval compare</h1>", headline_table(cmp, "html"), "<ul>"]
    parts += [f"<li>{html.escape(line)}</li>" for line in _legend(cmp)] + ["</ul>"]
    for title, mime, data in images:
        uri = f"data:{mime};base64,{base64.b64encode(data).decode()}"
        parts.append(f"<h2>{html.escape(title)}</h2><img alt='{html.escape(title)}' src='{uri}'>")
    for b in cmp.breakdowns:
        parts += [f"<h3>{html.escape(breakdown_title(b))}</h3>", breakdown_table(cmp, b, "html")]
    return "\n".join(parts + ["</body></html>"]) + "\n"
