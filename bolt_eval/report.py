"""Tables of finished runs: one row per run, the task's headline number with its CI."""

from __future__ import annotations

from typing import Any, Sequence

from tabulate import tabulate


def row(label: str, summary: dict[str, Any], where: str) -> list[Any]:
    h = summary["headline"]
    return [label, summary["task"], h["metric"], f"{100 * h['mean']:.1f}",
            f"[{100 * h['lo']:.1f}, {100 * h['hi']:.1f}]", h["n"], where]


def results_table(results: Sequence[Any], fmt: str = "github") -> str:
    rows = [row(r.manifest["label"], r.summary, str(r.dir)) for r in results]
    return tabulate(rows, headers=["model", "task", "metric", "%", "95% CI", "n", "run"], tablefmt=fmt, disable_numparse=True)
