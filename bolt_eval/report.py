"""Tables of finished runs: one row per run, the task's headline number with its CI,
the judged coverage and the judge (marked when it is a substitute for the official one, and
with how many verdicts were constrained, judging/constrained.py); a run judged with
--judge-expected-score has a second row for the expected grade (G-Eval)."""

from __future__ import annotations

from typing import Any, Sequence

from tabulate import tabulate

from bolt_eval.judging.constrained import method_note


def fmt_value(x: float, unit: str) -> str:
    return f"{100 * x:.1f}" if unit == "%" else f"{x:.2f}"


def row(label: str, summary: dict[str, Any], where: str, h: dict[str, Any] | None = None) -> list[Any]:
    h = h or summary["headline"]
    unit = h.get("unit", "%")
    cov = summary.get("coverage")
    judge = summary.get("judge")
    return [label, summary["task"], f"{h['metric']} (%)" if unit == "%" else h["metric"], fmt_value(h["mean"], unit),
            f"[{fmt_value(h['lo'], unit)}, {fmt_value(h['hi'], unit)}]", h["n"],
            f"{cov['judged']}/{cov['total']}" if cov else "-",
            (f"{judge['model']}" + (" (substitute)" if judge["substitute"] else "") + method_note(cov))
            if judge else "-", where]


def rows(label: str, summary: dict[str, Any], where: str) -> list[list[Any]]:
    """The headline's row, and the expected grade's when the run has one."""
    out = [row(label, summary, where)]
    if expected := summary.get("expected_score"):
        out.append(row(label, summary, where, expected))
    return out


def results_table(results: Sequence[Any], fmt: str = "github") -> str:
    rows_ = [x for r in results for x in rows(r.manifest["label"], r.summary, str(r.dir))]
    return tabulate(rows_, headers=["model", "task", "metric", "value", "95% CI", "n", "judged", "judge", "run"],
                    tablefmt=fmt, disable_numparse=True)
