"""Tables of finished runs: one row per run, the task's headline number with its CI,
the judged coverage and the judge (marked when it is a substitute for the official one)."""

from __future__ import annotations

from typing import Any, Sequence

from tabulate import tabulate


def fmt_value(x: float, unit: str) -> str:
    return f"{100 * x:.1f}" if unit == "%" else f"{x:.2f}"


def row(label: str, summary: dict[str, Any], where: str) -> list[Any]:
    h = summary["headline"]
    unit = h.get("unit", "%")
    cov = summary.get("coverage")
    judge = summary.get("judge")
    return [label, summary["task"], f"{h['metric']} (%)" if unit == "%" else h["metric"], fmt_value(h["mean"], unit),
            f"[{fmt_value(h['lo'], unit)}, {fmt_value(h['hi'], unit)}]", h["n"],
            f"{cov['judged']}/{cov['total']}" if cov else "-",
            (f"{judge['model']}" + (" (substitute)" if judge["substitute"] else "")) if judge else "-", where]


def results_table(results: Sequence[Any], fmt: str = "github") -> str:
    rows = [row(r.manifest["label"], r.summary, str(r.dir)) for r in results]
    return tabulate(rows, headers=["model", "task", "metric", "value", "95% CI", "n", "judged", "judge", "run"],
                    tablefmt=fmt, disable_numparse=True)
