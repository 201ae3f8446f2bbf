"""Paper-style figures of a Comparison (matplotlib, PNG and SVG).

- `grouped_bars`: one panel per benchmark, a bar per checkpoint with its 95% CI, as the
  BOLT paper's Figure 5 (base model vs each stage); reference rows hatched and labelled.
- `trajectory`: each benchmark over the checkpoints in row order (stages, online
  iterations), as its Figure 6, with the CI as a band.
- `mt_bench_radar`: MT-Bench score per category, one polygon per checkpoint.
- `zebra_by_size`: ZebraLogic cell accuracy by puzzle size, one line per checkpoint.

Every figure says what it shows in its title and axis labels (units included), so no
legend hunt is needed. Figures are built on `matplotlib.figure.Figure` (no pyplot, no
GUI backend) at 100 dpi, so a figure of `size=(w, h)` is a PNG of exactly w x h pixels
and an SVG of 0.72w x 0.72h points. matplotlib is imported only here, inside functions.
"""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bolt_eval.comparing.runs import display_name

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from bolt_eval.comparing.table import Breakdown, Comparison

DPI = 100
MIME = {"png": "image/png", "svg": "image/svg+xml"}


def _figure(size: tuple[int, int]) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=(size[0] / DPI, size[1] / DPI), dpi=DPI, layout="constrained")


def _colors(n: int) -> list[Any]:
    from matplotlib import colormaps

    cmap = colormaps["viridis"]
    return [cmap(0.15 + 0.7 * i / max(n - 1, 1)) for i in range(n)]


def _unit_label(cmp: Comparison, task: str) -> str:
    """The axis label: the headline metric and its unit, e.g. 'cell accuracy (%)'."""
    cells = [c for (_, t), c in cmp.cells.items() if t == task]
    metric = next((c.metric for c in cells if c.metric), "").replace("_", " ")
    unit = cells[0].unit if cells else "%"
    if unit == "%":
        return f"{metric} (%)" if metric else "%"
    return f"{metric} (1-10)" if task == "mt_bench" else (metric or "score")


def _err(mean: float, lo: float | None, hi: float | None) -> tuple[float, float]:
    if lo is None or hi is None or math.isnan(lo) or math.isnan(hi):
        return (0.0, 0.0)
    return (max(mean - lo, 0.0), max(hi - mean, 0.0))


def grouped_bars(cmp: Comparison, size: tuple[int, int] = (1200, 450)) -> Figure:
    fig = _figure(size)
    axes = fig.subplots(1, len(cmp.tasks), squeeze=False)[0]
    rows = cmp.row_labels()
    colors = dict(zip(cmp.labels, _colors(len(cmp.labels))))
    for ax, task in zip(axes, cmp.tasks):
        for i, label in enumerate(rows):
            c = cmp.cells.get((label, task))
            if c is None or math.isnan(c.mean):
                continue
            lo, hi = _err(c.mean, c.lo, c.hi)
            ax.bar(i, c.mean, yerr=[[lo], [hi]], capsize=3, color="white" if c.reference else colors[label],
                   edgecolor="0.3", hatch="//" if c.reference else None)
            ax.annotate(f"{c.mean:.1f}" if c.unit == "%" else f"{c.mean:.2f}", (i, c.mean + hi),
                        ha="center", va="bottom", fontsize=7)
        ax.set_xticks(range(len(rows)), [_short(r) for r in rows], rotation=30, ha="right", fontsize=7)
        ax.set_title(display_name(task), fontsize=10)
        ax.set_ylabel(_unit_label(cmp, task))
    fig.suptitle(f"Headline per benchmark, 95% CI (baseline: {cmp.baseline}; hatched = published reference)",
                 fontsize=11)
    return fig


def trajectory(cmp: Comparison, size: tuple[int, int] = (1200, 450)) -> Figure:
    fig = _figure(size)
    axes = fig.subplots(1, len(cmp.tasks), squeeze=False)[0]
    x = list(range(len(cmp.labels)))
    for ax, task in zip(axes, cmp.tasks):
        pts = [(i, cmp.cells[(lb, task)]) for i, lb in enumerate(cmp.labels) if (lb, task) in cmp.cells]
        pts = [(i, c) for i, c in pts if not math.isnan(c.mean)]
        if pts:
            xs = [i for i, _ in pts]
            ax.plot(xs, [c.mean for _, c in pts], marker="o", color="C0")
            ax.fill_between(xs, [c.lo if c.lo is not None else c.mean for _, c in pts],
                            [c.hi if c.hi is not None else c.mean for _, c in pts], color="C0", alpha=0.2, lw=0)
        for k, label in enumerate(cmp.references):
            c = cmp.cells.get((label, task))
            if c is not None:
                ax.axhline(c.mean, ls=":", color=f"C{k + 1}", lw=1)
                ax.annotate(f"ref: {_short(label)}", (0, c.mean), fontsize=6, va="bottom", color=f"C{k + 1}")
        ax.set_xticks(x, [_short(lb) for lb in cmp.labels], rotation=30, ha="right", fontsize=7)
        ax.set_title(display_name(task), fontsize=10)
        ax.set_ylabel(_unit_label(cmp, task))
    fig.suptitle("Trajectory over checkpoints (band: 95% CI; dotted: published reference)", fontsize=11)
    return fig


def _breakdown(cmp: Comparison, task: str, keys: tuple[str, ...]) -> Breakdown | None:
    for key in keys:
        for b in cmp.breakdowns:
            if b.task == task and b.key == key:
                return b
    return None


def mt_bench_radar(cmp: Comparison, size: tuple[int, int] = (700, 700)) -> Figure | None:
    b = _breakdown(cmp, "mt_bench", ("by_category",))
    if b is None or len(b.groups) < 3:
        return None
    fig = _figure(size)
    ax = fig.add_subplot(projection="polar")
    angles = [2 * math.pi * i / len(b.groups) for i in range(len(b.groups))]
    for label, color in zip(cmp.labels, _colors(len(cmp.labels))):
        vals = [b.values[g].get(label, (math.nan,))[0] for g in b.groups]
        if all(math.isnan(v) for v in vals):
            continue
        vals = [0.0 if math.isnan(v) else v for v in vals]
        ax.plot(angles + angles[:1], vals + vals[:1], color=color, label=label)
        ax.fill(angles + angles[:1], vals + vals[:1], color=color, alpha=0.1)
    ax.set_xticks(angles, b.groups, fontsize=8)
    ax.set_ylim(0, 10)
    ax.legend(loc="lower left", bbox_to_anchor=(-0.1, -0.12), fontsize=7)
    ax.set_title("MT-Bench score by category (1-10)", fontsize=11)
    return fig


def zebra_by_size(cmp: Comparison, size: tuple[int, int] = (1000, 450)) -> Figure | None:
    b = _breakdown(cmp, "zebralogic", ("by_size", "by_bucket"))
    if b is None:
        return None
    fig = _figure(size)
    ax = fig.subplots()
    x = list(range(len(b.groups)))
    for label, color in zip(cmp.labels, _colors(len(cmp.labels))):
        pts = [(i, b.values[g][label]) for i, g in enumerate(b.groups) if label in b.values[g]]
        if not pts:
            continue
        ax.errorbar([i for i, _ in pts], [v[0] for _, v in pts],
                    yerr=[[v[0] - v[1] for _, v in pts], [v[2] - v[0] for _, v in pts]],
                    marker="o", capsize=2, color=color, label=label)
    ax.set_xticks(x, b.groups, rotation=45 if len(x) > 8 else 0, fontsize=8)
    ax.set_xlabel("puzzle size (houses x attributes)" if b.key == "by_size" else "size bucket")
    ax.set_ylabel("cell accuracy (%)")
    ax.set_ylim(0, 100)
    ax.legend(fontsize=7)
    ax.set_title("ZebraLogic cell accuracy by puzzle size, 95% CI", fontsize=11)
    return fig


def figures(cmp: Comparison) -> list[tuple[str, str, Figure]]:
    """(file stem, title, figure) of every plot the comparison has data for."""
    out: list[tuple[str, str, Any]] = [("bars", "Headline per benchmark", grouped_bars(cmp)),
                                       ("trajectory", "Trajectory over checkpoints", trajectory(cmp))]
    radar, zebra = mt_bench_radar(cmp), zebra_by_size(cmp)
    if radar is not None:
        out.append(("mt_bench_radar", "MT-Bench by category", radar))
    if zebra is not None:
        out.append(("zebralogic_by_size", "ZebraLogic by size", zebra))
    return out


def to_bytes(fig: Figure, fmt: str) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, dpi=DPI, metadata={"Date": None} if fmt == "svg" else None)
    return buf.getvalue()


def save_all(cmp: Comparison, folder: str | Path, formats: tuple[str, ...] = ("png", "svg")) -> list[Path]:
    """Write every figure as folder/STEM.FMT; returns the paths written."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for stem, _, fig in figures(cmp):
        for fmt in formats:
            path = out / f"{stem}.{fmt}"
            path.write_bytes(to_bytes(fig, fmt))
            paths.append(path)
    return paths


def _short(label: str, limit: int = 28) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"
