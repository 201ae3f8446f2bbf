"""Subsampling graded queries to a topic mix, and the topic distribution plot.

The BOLT paper subsamples its criteria-filtered queries by topic, coding and math
dominating (Pang et al. 2025, 3.1 and Figure 3). Given the recipe's shares s_t and the
queries available per topic a_t, the largest set that has exactly that mix has
T = min_t a_t / s_t queries (capped by `max_queries`); topic t gets floor(s_t T), the
remainder going to the largest fractional parts (ties by topic name), never above a_t.
A topic of the mix that no query has is left out (its share spread over the others) and
shows as 0 in the table; one scarce topic does shrink the whole set: that is what an exact
mix costs, and the table shows it.
Which queries of a topic are kept is a seeded draw (random.Random(f"{seed}:{topic}")
over the ids in sorted order), so the same inputs give the same set on any machine.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from pathlib import Path
from typing import Any

from bolt_eval.types import UserError


def targets(available: dict[str, int], mix: dict[str, float], cap: int | None) -> dict[str, int]:
    """Queries to keep per topic of the mix (topics outside it get none)."""
    if any(not math.isfinite(s) or s < 0 for s in mix.values()) or sum(mix.values()) <= 0:
        raise UserError(f"queries.topics: shares must be >= 0 and not all 0, got {mix}")
    present = {t: s for t, s in mix.items() if s > 0 and available.get(t, 0) > 0}
    if not present:
        return {}
    total = sum(present.values())
    shares = {t: s / total for t, s in present.items()}
    size = min(available[t] / s for t, s in shares.items())
    if cap is not None:
        size = min(size, cap)
    want = math.floor(size + 1e-9)
    quota = {t: s * size for t, s in shares.items()}
    counts = {t: min(math.floor(q + 1e-9), available.get(t, 0)) for t, q in quota.items()}
    spare = sorted(shares, key=lambda t: (-(quota[t] - counts[t]), t))
    for t in spare:
        if sum(counts.values()) >= want:
            break
        if counts[t] < available.get(t, 0):
            counts[t] += 1
    return counts


def subsample(queries: list[Any], mix: dict[str, float], cap: int | None, seed: int) -> tuple[list[Any], list[Any]]:
    """(kept, dropped), each in input order. Every query must carry a topic."""
    by_topic: dict[str, list[str]] = {}
    for q in queries:
        by_topic.setdefault(q.topic, []).append(q.id)
    counts = targets({t: len(ids) for t, ids in by_topic.items()}, mix, cap)
    chosen: set[str] = set()
    for topic, n in counts.items():
        chosen.update(random.Random(f"{seed}:{topic}").sample(sorted(by_topic.get(topic, [])), n))
    return [q for q in queries if q.id in chosen], [q for q in queries if q.id not in chosen]


def cap_sample(queries: list[Any], cap: int, seed: int) -> tuple[list[Any], list[Any]]:
    """`max_queries` without a topic mix: a seeded draw of `cap` queries, order kept."""
    if len(queries) <= cap:
        return list(queries), []
    chosen = set(random.Random(f"{seed}:max_queries").sample(sorted(q.id for q in queries), cap))
    return [q for q in queries if q.id in chosen], [q for q in queries if q.id not in chosen]


def distribution(before: list[Any], after: list[Any], mix: dict[str, float]) -> list[dict[str, Any]]:
    """Per topic: count and share before and after subsampling, and the target share."""
    b, a = Counter(q.topic for q in before), Counter(q.topic for q in after)
    total = sum(mix.values()) or 1.0
    topics = list(mix) + sorted(set(b) - set(mix))
    return [{"topic": t, "before": b[t], "before_share": round(b[t] / max(len(before), 1), 4),
             "after": a[t], "after_share": round(a[t] / max(len(after), 1), 4),
             "target_share": round(mix[t] / total, 4) if t in mix else None} for t in topics]


def plot(rows: list[dict[str, Any]], path: Path, title: str) -> None:
    """Topic shares before and after subsampling, as grouped bars (the paper's Figure 3 shows
    the topic distribution of the curated queries)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [r["topic"] for r in rows]
    x = range(len(rows))
    fig, ax = plt.subplots(figsize=(max(6, 0.9 * len(rows) + 2), 4))
    ax.bar([i - 0.2 for i in x], [100 * r["before_share"] for r in rows], 0.4, label="graded (>= min criteria)")
    ax.bar([i + 0.2 for i in x], [100 * r["after_share"] for r in rows], 0.4, label="curated")
    for i, r in zip(x, rows):
        ax.annotate(str(r["after"]), (i + 0.2, 100 * r["after_share"]), ha="center", va="bottom", fontsize=8)
    ax.set_xticks(list(x), labels, rotation=30, ha="right")
    ax.set_ylabel("share of queries (%)")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=120)
    plt.close(fig)
    tmp.replace(path)
