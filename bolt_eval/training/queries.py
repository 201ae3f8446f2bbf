"""`bolt-eval train queries`: curate the query set, as the BOLT paper does (Pang et al. 2025, 3.1).

Steps, each counted in the manifest and the summary table:

1. load: the first user turn of every row of the recipe's sources (sources.py);
2. duplicates: a query whose normalised text repeats an earlier one is dropped;
3. decontamination against every item of the evaluation suite (decontam.py), first, so
   no judge call is paid for a query that would be removed anyway;
4. criteria: the LLM judge grades each query on the seven BenchBuilder criteria and names
   its topic (criteria.py; through the judging engine and its ledger, so a re-run pays
   nothing); a query meeting fewer than `min_criteria` is dropped. A query the judge gave
   no verdict for (an API judge is asked again within the run, `parse_retries` times; a
   local one is not) is **ungraded**: neither kept nor counted as meeting 0 criteria; it is
   listed in removed.jsonl with the judge's status, the table says how many, and the next
   run asks again. `judge: null` skips this step (said in the manifest);
5. topics: subsampled to the recipe's `topics` mix (topic_mix.py), seeded;
6. max_queries: a seeded cap (within the topic mix when there is one).

    <output_dir>/queries/queries.jsonl   the curated queries {"id", "prompt", "source", "reference"?, "topic"?}
    <output_dir>/queries/removed.jsonl   every dropped query with its step and reason (the item it matched)
    <output_dir>/queries/topics.png      topic shares before and after the mix (with a judge)
    <output_dir>/queries/manifest.json   counts per step, sources and hashes, judge, n-gram n, cost
    <output_dir>/judgments.sqlite        the judge's ledger (shared with later stages)

A finished curation is skipped while the recipe's settings and the inputs (the source files'
content, the suite's items, the judge and the criteria template) are unchanged, so stage 1
is never handed another query set by a re-run; one that left queries ungraded runs again to
ask for them. A re-run that fails before writing anything leaves the finished one in place.
"""

from __future__ import annotations

import re
from typing import Any

from bolt_eval.training.recipe import Recipe
from bolt_eval.training.sources import Query, load_queries, write_query_file
from bolt_eval.training.workdir import StageDir, write_jsonl
from bolt_eval.types import UserError


def run(recipe: Recipe, progress: bool = True) -> str:
    from bolt_eval.training.decontam import suite_items

    cfg = recipe.section("queries")
    suite = cfg.decontaminate.suite or recipe.eval.suite
    if cfg.topics and cfg.judge is None:
        raise UserError(f"{recipe.source}: key 'queries.topics' needs a judge to label topics; "
                        "set queries.judge or remove queries.topics")
    items, benchmarks = suite_items(suite)  # first: a suite that cannot load fails before any download
    config = {"queries": cfg.model_dump(mode="json"), "seed": recipe.seed, "suite": suite,
              "inputs": _inputs(cfg, benchmarks)}
    stage = StageDir(recipe, "queries", config)
    old = stage.previous()
    if stage.finished() and old and not (old.get("counts") or {}).get("ungraded") \
            and (stage.dir / "queries.jsonl").is_file():
        return _table(recipe, old, skipped=True)  # ungraded queries: the next run asks the judge again
    with stage:
        try:
            queries, removed, info = _curate(recipe, stage, items, progress)
        except BaseException:
            if old and old.get("status") == "complete":  # nothing written yet: the finished curation stands
                stage.manifest = old
                stage.write_manifest()
            raise
        info["decontamination"].update(suite=suite, benchmarks=benchmarks)
        counts = info["counts"]
        removed_sha = write_jsonl(stage.dir / "removed.jsonl", removed)
        if not queries:
            (stage.dir / "queries.jsonl").unlink(missing_ok=True)  # no earlier run's set may pass for this one's
            raise UserError(f"{recipe.source}: no query survived curation ({counts}); see {stage.dir}/removed.jsonl")
        sha = write_query_file(stage.dir / "queries.jsonl", queries)
        stage.finish(**info, outputs={"queries.jsonl": sha, "removed.jsonl": removed_sha})
        return _table(recipe, stage.manifest)


def _inputs(cfg: Any, benchmarks: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """What the curated set depends on besides the recipe's settings: the source files'
    content, the harness's prompt of each benchmark-row source, the suite's items, the judge
    (its weights, for a local one) and the criteria template."""
    from bolt_eval.registry import backends
    from bolt_eval.registry import benchmarks as tasks
    from bolt_eval.training.criteria import load_template
    from bolt_eval.training.recipe import resolve_path
    from bolt_eval.training.workdir import file_sha256

    files = [resolve_path(s.path) if s.path else None for s in cfg.sources]
    out: dict[str, Any] = {
        "sources_sha256": [file_sha256(f) if f and f.is_file() else None for f in files],  # hub: the pinned revision
        "source_tasks": {s.task: tasks.get(s.task).version for s in cfg.sources if s.task},
        "suite_items_sha256": {name: b["sha256"] for name, b in benchmarks.items()}}
    if cfg.judge is not None:
        spec = cfg.judge.spec()
        out["judge"] = {"model": backends.get(spec.backend).identity(spec), "template": load_template().sha256}
    return out


def _curate(recipe: Recipe, stage: StageDir, items: list[Any], progress: bool
            ) -> tuple[list[Query], list[dict[str, Any]], dict[str, Any]]:
    """Steps 1-6 (no output written but topics.png): the curated queries, the removed rows,
    and the manifest's counts, sources, judge, cost, decontamination and topics."""
    from bolt_eval.training import topic_mix
    from bolt_eval.training.decontam import decontaminate

    cfg = recipe.section("queries")
    queries, sources = load_queries(cfg.sources)
    counts: dict[str, Any] = {"loaded": len(queries)}
    removed: list[dict[str, Any]] = []
    queries = _dedupe(queries, removed)
    counts["after_duplicates"] = len(queries)
    queries, dropped, decontam = decontaminate(queries, items, cfg.decontaminate.n, cfg.decontaminate.min_overlap,
                                               progress)
    removed += dropped
    counts["after_decontamination"] = len(queries)
    judge_info: dict[str, Any] = {"used": False, "reason": "queries.judge is null: no criteria grading"}
    cost: dict[str, Any] = {}
    topics: list[dict[str, Any]] = []
    if cfg.judge is not None:
        queries, judge_info, cost = _grade(recipe, queries, removed, counts, progress)
        before = queries
        if cfg.topics:
            queries, dropped_q = topic_mix.subsample(queries, cfg.topics, cfg.max_queries, recipe.seed)
            removed += [_row(q, "topics", "topic subsample", topic=q.topic) for q in dropped_q]
            counts["after_topics"] = len(queries)
        topics = topic_mix.distribution(before, queries, cfg.topics)
        topic_mix.plot(topics, stage.dir / "topics.png", f"{recipe.name}: query topics")
    if cfg.max_queries is not None and len(queries) > cfg.max_queries:
        queries, dropped_q = topic_mix.cap_sample(queries, cfg.max_queries, recipe.seed)
        removed += [_row(q, "max_queries", f"over max_queries {cfg.max_queries}") for q in dropped_q]
    counts["curated"] = len(queries)
    return queries, removed, {"counts": counts, "sources": sources, "judge": judge_info, "cost": cost,
                              "decontamination": decontam, "topics": topics}


def _dedupe(queries: list[Query], removed: list[dict[str, Any]]) -> list[Query]:
    seen: dict[str, str] = {}
    out = []
    for q in queries:
        key = " ".join(re.findall(r"\w+", q.prompt.lower()))
        if key in seen:
            removed.append(_row(q, "duplicates", "same text as an earlier query", duplicate_of=seen[key]))
        else:
            seen[key] = q.id
            out.append(q)
    return out


def _grade(recipe: Recipe, queries: list[Query], removed: list[dict[str, Any]], counts: dict[str, Any],
           progress: bool) -> tuple[list[Query], dict[str, Any], dict[str, Any]]:
    import json
    from dataclasses import replace

    from bolt_eval.judging.cost import Budget, Meter, load_prices
    from bolt_eval.judging.judge import Judge, JudgeSpec
    from bolt_eval.judging.ledger import Ledger
    from bolt_eval.training.criteria import grade, topic_menu
    from bolt_eval.types import SamplingParams

    cfg = recipe.queries
    assert cfg is not None and cfg.judge is not None
    spec = JudgeSpec(cfg.judge.spec(), SamplingParams(temperature=0.0, max_new_tokens=cfg.judge_max_new_tokens))
    menu = topic_menu(cfg.topics)
    with Ledger(recipe.out / "judgments.sqlite") as ledger:
        meter = Meter.for_model(spec.backend.backend, spec.backend.model, load_prices())
        judge = Judge(spec, ledger, meter, Budget(None))
        try:
            grades, cost = grade(queries, judge, menu, progress)
        finally:
            judge.close()
    kept, ungraded, unlisted = [], 0, 0
    for q, g in zip(queries, grades):
        if g.status != "ok":
            ungraded += 1
            removed.append(_row(q, "criteria", "ungraded: the judge gave no verdict (asked again on the next run)",
                                judge_status=g.status, judgment=g.key))
            continue
        unlisted += g.unlisted_topic is not None
        if len(g.criteria) < cfg.min_criteria:
            removed.append(_row(q, "criteria", f"meets {len(g.criteria)} of 7 criteria, under min_criteria "
                                f"{cfg.min_criteria}", criteria=list(g.criteria), topic=g.topic))
            continue
        kept.append(replace(q, topic=g.topic))
    counts.update(graded=len(queries) - ungraded, ungraded=ungraded, topic_not_on_menu=unlisted,
                  after_criteria=len(kept))
    info = {"used": True, "model": json.loads(judge.id), "template": cost["template"], "parser": "benchbuilder@1",
            "min_criteria": cfg.min_criteria, "topics_menu": menu, "max_new_tokens": cfg.judge_max_new_tokens}
    return kept, info, cost


def _row(q: Query, step: str, reason: str, **extra: Any) -> dict[str, Any]:
    return {"id": q.id, "source": q.source, "step": step, "reason": reason, **extra}


def _table(recipe: Recipe, manifest: dict[str, Any], skipped: bool = False) -> str:
    from tabulate import tabulate

    c, d = manifest["counts"], manifest["decontamination"]
    rows = [["loaded (first user turns)", c["loaded"]], ["after duplicates", c["after_duplicates"]],
            [f"after decontamination (n={d['n']}, overlap >= {d['min_overlap']}, suite {d['suite']})",
             c["after_decontamination"]]]
    if manifest["judge"]["used"]:
        rows += [["graded by the judge", c["graded"]], ["  ungraded (no verdict; re-run asks again)", c["ungraded"]],
                 [f"after criteria (>= {manifest['judge']['min_criteria']} of 7)", c["after_criteria"]]]
        if "after_topics" in c:
            rows.append(["after topic mix", c["after_topics"]])
    else:
        rows.append(["criteria grading", "skipped (judge: null)"])
    rows.append(["curated", c["curated"]])
    state = "already complete with these settings: skipped" if skipped else manifest["status"]
    out = [f"queries of {recipe.name}: {state}",
           tabulate(rows, headers=["step", "queries"], tablefmt="github")]
    if d["removed"]:
        out.append(f"decontamination removed {d['removed']} ({d['removed_by_benchmark']}); "
                   f"see {recipe.out / 'queries' / 'removed.jsonl'}")
    if manifest["topics"]:
        out.append(tabulate([[r["topic"], r["before"], r["before_share"], r["after"], r["after_share"],
                              r["target_share"]] for r in manifest["topics"]],
                            headers=["topic", "graded", "share", "curated", "share", "target"], tablefmt="github"))
    cost = manifest["cost"]
    if cost:
        usd = "unknown price" if cost["usd"] is None else f"${cost['usd']:.4f}"
        out.append(f"judge: {cost['calls']} calls ({cost['calls_this_run']} this run), "
                   f"{cost['prompt_tokens']} + {cost['completion_tokens']} tokens, {usd}")
    if c.get("ungraded"):
        out.append(f"warning: {c['ungraded']} queries have no verdict from the judge and are left out; "
                   "run the same command again to ask for them again")
    return "\n\n".join(out)
