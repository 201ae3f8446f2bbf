"""BOLT stage 1: bootstrap a long-CoT SFT set by in-context learning (Pang et al., 2025, 3.1).

For each curated query: a prompt with `k` of the exemplars (drawn seeded per query), `n`
samples from the bootstrapping model through the harness's own backends; the format rules
(format_check.py, each rejection counted by reason); the ORM on the external solution only;
then the percentile floor and the argmax per query (selection.py).

    <output_dir>/bootstrap/samples.jsonl  journal: one line per generation chunk
    <output_dir>/bootstrap/rewards.jsonl  journal: the rewards of that chunk's valid samples
    <output_dir>/bootstrap/pool.jsonl     every sample: exemplars, format verdict, reward, fate
    <output_dir>/bootstrap/sft.jsonl      the SFT set: {"id", "messages": [user, assistant], "reward"}

A chunk is the unit of work and of storage, so a killed run resumes with the same chunk
(same batch, same seed: the same bytes, on backends whose sampling is seeded per batch) and
nothing stored is generated or scored again. Changing the percentile re-runs only the
selection: the journals are reused. Each rewards record names the reward model that made
it (`reward_hash`, of `reward.describe()`): after a change of the `reward` section the
stored samples are scored again (never generated again), and a sample that the format rules
now let through but that has no score yet is scored; a later record of a chunk supersedes
the earlier one.
"""

from __future__ import annotations

import json
import time
from typing import Any

from bolt_eval.registry import backends
from bolt_eval.store import config_hash
from bolt_eval.thoughts import get_delimiters, join_response
from bolt_eval.training.recipe import Recipe, resolve_path
from bolt_eval.training.selection import Scored, select
from bolt_eval.training.workdir import StageDir, file_sha256, write_jsonl
from bolt_eval.types import Request, SamplingParams, UserError


def queries_file(recipe: Recipe) -> Any:
    path = recipe.out / "queries" / "queries.jsonl"
    manifest = recipe.out / "queries" / "manifest.json"
    if not path.is_file() or not manifest.is_file() or json.loads(manifest.read_text()).get("status") != "complete":
        raise UserError(f"{path}: no curated queries; run `bolt-eval train queries --recipe {recipe.source}` first")
    return path


def run(recipe: Recipe, progress: bool = True) -> str:
    from bolt_eval.training.exemplars import load_exemplars
    from bolt_eval.training.rewards import build_reward
    from bolt_eval.training.sources import read_query_file

    cfg = recipe.section("bootstrap")
    recipe.section("reward")
    delims = get_delimiters(recipe.thoughts)
    if delims is None:
        raise UserError(f"{recipe.source}: key 'thoughts': stage 1 needs a thoughts preset (bolt, think, sky-t1), not 'none'")
    qpath = queries_file(recipe)
    queries = read_query_file(qpath)
    exemplars = load_exemplars(resolve_path(cfg.exemplars))
    if cfg.k > len(exemplars):
        raise UserError(f"{recipe.source}: key 'bootstrap.k' is {cfg.k} but {cfg.exemplars} holds {len(exemplars)} exemplars")
    spec = cfg.generator.spec()
    identity = backends.get(spec.backend).identity(spec)
    generation = {"generator": identity, "k": cfg.k, "n": cfg.n, "temperature": cfg.temperature, "top_p": cfg.top_p,
                  "max_new_tokens": cfg.max_new_tokens, "seed": recipe.seed, "thoughts": recipe.thoughts,
                  "chunk": spec.batch_size, "queries_sha256": file_sha256(qpath),
                  "exemplars_sha256": config_hash({e.id: [e.query, e.thoughts, e.solution] for e in exemplars})}
    gen_hash = config_hash(generation)[:16]
    reward = build_reward(recipe)
    described = reward.describe()
    config = {"generation": generation, "reward": described, "format": cfg.format.model_dump(),
              "percentile": cfg.percentile, "percentile_scope": cfg.percentile_scope}
    stage = StageDir(recipe, "bootstrap", config)
    if stage.finished():
        return _table(stage.previous() or {}, skipped=True)
    reward.preflight()  # a reward model that cannot load fails now, not after the first chunk
    started = time.monotonic()
    with stage:
        samples = stage.journal("samples.jsonl")
        rewards = stage.journal("rewards.jsonl", replace=True)  # a chunk scored anew supersedes its old scores
        _check_generation(samples, gen_hash, stage)
        chunks = [queries[i:i + spec.batch_size] for i in range(0, len(queries), spec.batch_size)]
        made_by = config_hash(described)[:16]  # what every stored score depends on (reward_hash)

        def score(key: str, chunk: list[Any]) -> None:
            _score(key, chunk, samples, rewards, cfg, delims, reward, made_by)

        timing = _generate(chunks, samples, score, exemplars, cfg, recipe, spec, gen_hash, delims, progress)
        reward.close()
        pool, sft, counts = _select(queries, chunks, samples, rewards, cfg, delims)
        counts.update(timing, wall_s=round(time.monotonic() - started, 1))
        stage.finish(counts=counts, outputs={"sft.jsonl": write_jsonl(stage.dir / "sft.jsonl", sft),
                                             "pool.jsonl": write_jsonl(stage.dir / "pool.jsonl", pool)},
                     generator=identity, reward=described,
                     inputs={"queries": {"path": str(qpath), "sha256": generation["queries_sha256"]},
                             "exemplars": {"path": cfg.exemplars, "ids": [e.id for e in exemplars]}})
        return _table(stage.manifest)


def _check_generation(samples: Any, gen_hash: str, stage: StageDir) -> None:
    other = next((r for r in samples if r["gen"] != gen_hash), None)
    if other is not None:
        raise UserError(f"{samples.path} holds samples generated with other settings (generator, k, n, sampling, "
                        f"exemplars or queries changed); remove {stage.dir} or use another output_dir")


def _generate(chunks: list[list[Any]], samples: Any, score: Any, exemplars: list[Any], cfg: Any, recipe: Recipe,
              spec: Any, gen_hash: str, delims: Any, progress: bool) -> dict[str, Any]:
    """Generate each chunk not yet in `samples`, and `score(key, chunk)` each chunk as it comes."""
    from bolt_eval.backends.base import LazyBackend
    from bolt_eval.progress import progress_bar
    from bolt_eval.training.exemplars import draw, icl_messages

    backend = LazyBackend(spec)
    todo = sum(len(c) for i, c in enumerate(chunks) if f"chunk-{i:05d}" not in samples)
    bar = progress_bar(todo * cfg.n, "bootstrap generate", progress, "sample")
    gen_s, tokens = 0.0, 0
    params = SamplingParams(temperature=cfg.temperature, top_p=cfg.top_p, max_new_tokens=cfg.max_new_tokens,
                            n=cfg.n, seed=recipe.seed)
    try:
        for i, chunk in enumerate(chunks):
            key = f"chunk-{i:05d}"
            if key not in samples:
                seeded = params.with_(seed=recipe.seed * 100_003 + i)  # one seed per chunk: its batch repeats exactly
                requests = [Request(q.id, 0, icl_messages(q.prompt, exemplars, cfg.k, recipe.seed, q.id, delims=delims), seeded)
                            for q in chunk]
                t0 = time.monotonic()
                outs = backend.get().generate(requests, progress=lambda m: bar.update(m * cfg.n))
                gen_s += time.monotonic() - t0
                failed = [(q.id, c.error) for q, cs in zip(chunk, outs) for c in cs if c.error]
                if failed:
                    raise UserError(f"bootstrap: generation failed for query {failed[0][0]}: {failed[0][1]}; "
                                    "finished chunks are kept, re-run the same command to retry")
                tokens += sum(c.completion_tokens for cs in outs for c in cs)
                samples.append({"key": key, "gen": gen_hash, "queries": [
                    {"id": q.id, "exemplars": draw(exemplars, cfg.k, recipe.seed, q.id),
                     "responses": [{"text": c.text, "finish_reason": c.finish_reason, "tokens": c.completion_tokens}
                                   for c in cs]} for q, cs in zip(chunk, outs)]})
            score(key, chunk)  # stored chunks too: scored anew when the reward model changed
    finally:
        bar.close()
        backend.close()
    return {"generation_s": round(gen_s, 1), "completion_tokens": tokens,
            "tokens_per_s": round(tokens / gen_s, 1) if gen_s else None}


def _score(key: str, chunk: list[Any], samples: Any, rewards: Any, cfg: Any, delims: Any, reward: Any,
           made_by: str) -> None:
    """Score the chunk's format-valid samples that have no score from this reward model
    (`made_by`: a hash of reward.describe(), the components, their weights, models and
    fingerprints, templates, format-reward rules): all of them when the stored record was made
    by another (or names none: older journals), else those the format rules let through
    since and those the reward model failed on (a judge API down). The stage's format rules
    decide which samples are scored, never a score's value."""
    from bolt_eval.training.format_check import check_format
    from bolt_eval.training.rewards import RewardItem

    stored = rewards.records.get(key)
    current = stored is not None and stored.get("reward_hash") == made_by
    have = {k: v for k, v in stored["rewards"].items() if v["value"] is not None} if current else {}
    by_id = {q.id: q for q in chunk}
    items = []
    for rec in samples.records[key]["queries"]:
        for j, r in enumerate(rec["responses"]):
            if f"{rec['id']}#{j}" not in have and check_format(r["text"], r["finish_reason"], delims, cfg.format).ok:
                q = by_id[rec["id"]]
                items.append(RewardItem(f"{q.id}#{j}", q.prompt, r["text"], r["finish_reason"], q.reference))
    if current and not items:
        return
    scores = reward.score(items) if items else []
    rewards.append({"key": key, "reward_hash": made_by,
                    "rewards": {**have, **{it.key: s.to_dict() for it, s in zip(items, scores)}}})


def _select(queries: list[Any], chunks: list[list[Any]], samples: Any, rewards: Any, cfg: Any,
            delims: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, Any]]:
    from bolt_eval.training.format_check import check_format

    pool_rows, scored = [], []
    counts: dict[str, Any] = {"queries": len(queries), "samples": 0, "format_valid": 0}
    for i in range(len(chunks)):
        key = f"chunk-{i:05d}"
        got = rewards.records[key]["rewards"]
        for rec in samples.records[key]["queries"]:
            for j, r in enumerate(rec["responses"]):
                verdict = check_format(r["text"], r["finish_reason"], delims, cfg.format)
                score = got.get(f"{rec['id']}#{j}") if verdict.ok else None  # a score under looser rules: unused
                counts["samples"] += 1
                counts["format_valid"] += verdict.ok
                failed = score is None or score["value"] is None
                reason = verdict.reason if not verdict.ok else ("reward_failed" if failed else None)
                scored.append(Scored(rec["id"], j, score["value"] if score else None, reason))
                pool_rows.append({"query": rec["id"], "index": j, "exemplars": rec["exemplars"],
                                  "format_ok": verdict.ok, "format_reason": verdict.reason, "tokens": r["tokens"],
                                  "finish_reason": r["finish_reason"], "reward": score["value"] if score else None,
                                  "reward_parts": score["parts"] if score else None,
                                  "reward_error": score["error"] if score else None,
                                  "reward_notes": score.get("notes") if score else None, "response": r["text"]})
    selection = select(scored, cfg.percentile, cfg.percentile_scope)
    for row in pool_rows:
        row["fate"] = selection.verdicts[(row["query"], row["index"])]
    counts["format_valid_rate"] = round(counts["format_valid"] / counts["samples"], 4) if counts["samples"] else None
    counts["by_fate"] = dict(sorted(selection.counts.items()))
    counts["threshold"] = selection.threshold.get("pool")
    by_query = {q.id: q for q in queries}
    responses = {(row["query"], row["index"]): row["response"] for row in pool_rows}
    sft = []
    for qid, best in sorted(selection.chosen.items(), key=lambda kv: kv[0]):
        verdict = check_format(responses[(qid, best.index)], "stop", delims, cfg.format)
        text = join_response(verdict.thoughts or "", verdict.solution, delims)
        sft.append({"id": qid, "messages": [{"role": "user", "content": by_query[qid].prompt},
                                            {"role": "assistant", "content": text}],
                    "reward": best.reward, "sample_index": best.index})
    counts["sft_rows"] = len(sft)
    return pool_rows, sft, counts


def _table(manifest: dict[str, Any], skipped: bool = False) -> str:
    from tabulate import tabulate

    c = manifest.get("counts", {})
    rows = [["queries", c.get("queries")], ["samples generated", c.get("samples")],
            ["format-valid", f"{c.get('format_valid')} ({c.get('format_valid_rate')})"]]
    rows += [[f"  {fate}", n] for fate, n in c.get("by_fate", {}).items()]
    rows += [["reward threshold", c.get("threshold")], ["SFT rows", c.get("sft_rows")],
             ["completion tokens", c.get("completion_tokens")], ["tokens/s", c.get("tokens_per_s")],
             ["wall s", c.get("wall_s")]]
    state = "already complete with these settings: skipped" if skipped else "complete"
    where = f"{manifest.get('recipe', {}).get('name')}: {state}"
    return f"stage 1 (bootstrap) of {where}\n" + tabulate(rows, headers=["stage 1", "count"], tablefmt="github")
