"""Decontamination: drop training queries that hold an item of the evaluation suite.

Every item of every task of the suite (`queries.decontaminate.suite`, else the recipe's
`eval.suite`) is loaded as the runner loads it, and indexed by the word n-grams of its own
content: its turns and the user turns of a recorded history, never the instructions the
harness wraps around it (ngram_index.py: normalisation, line-bounded n-grams, boilerplate).
A query is compared by its own content too: a benchmark-schema row by the row's turns
(a ZebraLogic query by its puzzle, not the prompt with the worked example), any other
query by its prompt. It is removed when its overlap with one item (the larger of: the
share of the query's content n-grams found in the item, the share of the item's found in
the query) reaches `min_overlap`; the removed row names the benchmark, the item and the
overlap.

The default threshold, 0.5, was set on generated ZebraLogic puzzles, the most templated
texts a suite holds (n = 13; the 1000-puzzle generated set as items, 1800 puzzles of other
seeds, every size 2x2..6x6, as queries): different puzzles overlap at most 0.43 (99th
percentile 0.31, median 0.07); a copy scores 1.0, also with whitespace, line breaks and
case changed, and with its clues shuffled and renumbered (the lines-sorted view; as
written such a copy scored 0.18-0.6). Without the boilerplate rule different puzzles
overlapped up to 0.78: no threshold would have told them from copies. A paraphrase is out
of reach of any n-gram check.
"""

from __future__ import annotations

import functools
import sys
from typing import Any, Iterable

from bolt_eval.training.ngram_index import BOILERPLATE_MIN_ITEMS, BOILERPLATE_SHARE, Index, Item
from bolt_eval.types import UserError


def suite_items(suite_name: str) -> tuple[list[Item], dict[str, dict[str, Any]]]:
    """Every item of every task of an evaluation suite, loaded as the runner loads them
    (all items: a task's `limit` only says how many are evaluated today)."""
    from bolt_eval.registry import benchmarks
    from bolt_eval.suites import load_suite

    suite = load_suite(suite_name)
    items: list[Item] = []
    info: dict[str, dict[str, Any]] = {}
    for t in suite.tasks:
        try:
            task = benchmarks.get(t.name)(data=t.data, **t.options)
            dataset = task.load()
        except UserError as err:
            raise UserError(f"decontamination against suite {suite_name!r}: task {t.name} cannot load its items "
                            f"({err}). Make its data available (a local `data:` file in tasks/suites/{suite_name}.yaml) "
                            "or set queries.decontaminate.suite to a suite whose data loads here") from err
        name = t.name if t.name not in info else f"{t.name}:{t.data}"
        for s in dataset.samples:
            texts = tuple(s.turns) + tuple(m["content"] for m in s.history if m.get("role") == "user")
            items.append(Item(name, s.id, texts))
        info[name] = {"items": len(dataset.samples), "source": dataset.source, "sha256": dataset.sha256}
    return items, info


def query_content(query: Any) -> str:
    """What of a query is compared: a benchmark row's own turns, else the prompt."""
    ref = query.reference
    if ref and ref.get("task") and isinstance(ref.get("row"), dict):
        sample = _task(ref["task"]).to_sample(ref["row"], f"query {query.id}")
        return "\n".join(sample.turns)
    return str(query.prompt)


@functools.cache
def _task(name: str) -> Any:
    from bolt_eval.registry import benchmarks

    return benchmarks.get(name)()


def decontaminate(queries: list[Any], items: list[Item], n: int, min_overlap: float,
                  progress: bool = False) -> tuple[list[Any], list[dict[str, Any]], dict[str, Any]]:
    """(kept queries, removed rows naming the item each matched, a report with n and counts)."""
    if not 0 < min_overlap <= 1:
        raise UserError(f"queries.decontaminate.min_overlap must be in (0, 1], got {min_overlap}")
    index = Index(items, n)
    kept, removed = [], []
    highest = 0.0
    for q in _bar(queries, progress):
        match = index.best_match(query_content(q))
        if match is not None and match.overlap >= min_overlap:
            removed.append({"id": q.id, "source": q.source, "step": "decontamination", "reason": "contamination",
                            "benchmark": match.benchmark, "item": match.item, "overlap": match.overlap,
                            "query_share": match.query_share, "item_share": match.item_share,
                            "shared_ngrams": match.shared, "view": match.view})
        else:
            kept.append(q)
            highest = max(highest, match.overlap if match else 0.0)
    by_benchmark: dict[str, int] = {}
    for r in removed:
        by_benchmark[r["benchmark"]] = by_benchmark.get(r["benchmark"], 0) + 1
    report = {"n": n, "min_overlap": min_overlap, "items": len(items), "checked": len(queries),
              "removed": len(removed), "removed_by_benchmark": by_benchmark,
              "highest_overlap_kept": round(highest, 6),
              "boilerplate_rule": f"grams in >= max({BOILERPLATE_MIN_ITEMS}, {BOILERPLATE_SHARE:.0%}) "
                                  "of one benchmark's items are ignored",
              "boilerplate_grams": index.boilerplate, "items_unchecked": index.unchecked}
    return kept, removed, report


def _bar(queries: list[Any], show: bool) -> Iterable[Any]:
    if not show:
        return queries
    from tqdm import tqdm

    return tqdm(queries, desc="decontamination", unit="query", file=sys.stderr)
