"""The judge's own noise: re-ask a seeded share of a run's judgments K more times, measure
how much the judge disagrees with itself, and carry that into the headline's interval.

FastChat's users asked how stable GPT-4's MT-Bench grades are; arena-hard-auto's intervals
resample battles, never the judge. `bolt-eval run --judge-repeats K --judge-repeat-share S`
answers both:

- Selection: the share S of the run's *items* whose ids rank first by a seeded hash
  (ceil(S * n) items; nested in S, independent of K). Every judgment of a chosen item is
  repeated (both MT-Bench turns, both Arena-Hard games, WB-Score and every WB-Reward
  battle), so an item's repeats can stand in for its verdicts together.
- Repeat r (1..K) of a judgment is a fresh sample at the judge's own sampling settings,
  seed + r * REPEAT_SEED_STRIDE: the seed is part of the ledger key, so every repeat is its
  own row, a re-run pays nothing and a larger K re-uses the first ones. At temperature 0 a
  repeat measures only the API's nondeterminism (a local greedy judge repeats itself
  exactly): a warning says so.
- Repeats are kept beside the judgment they repeat, in `<run>/judgments.jsonl`
  (`judgments[name]["repeats"]`), and never enter coverage or the headline's point value.
- `summary["judge_noise"]`: per kind of verdict the judge's variability (grades: pooled
  within-judgment SD, exact agreement of two repeats, Fleiss' kappa; pairwise labels:
  agreement and Fleiss' kappa), and the headline with a two-level bootstrap interval
  (`bolt_eval/noise_bootstrap.py`), marked "CI incl. judge noise".

Without --judge-repeats nothing of this runs and every file a run writes is unchanged.
"""

from __future__ import annotations

import argparse
import hashlib
import math
import sys
from collections import Counter
from dataclasses import dataclass, replace
from typing import Any, Callable

from bolt_eval.types import UserError

REPEAT_SEED_STRIDE = 1000  # repeat r samples with seed + r * stride: far from the parse retries' seed + tries
CI_LABEL = "CI incl. judge noise"
BATCH_REFUSAL = ("--judge-repeats is asked live, not through --judge-mode batch: judge the run in batch first, then "
                 "add the repeats with the same command, --judge-mode live and --judge-repeats (the first verdicts "
                 "come from the ledger; only the repeats are paid)")


@dataclass(frozen=True)
class NoiseSpec:
    repeats: int  # K more verdicts per chosen judgment
    share: float  # share S of the items whose judgments are repeated
    seed: int = 0  # which items (Python API; the CLI keeps 0)

    def to_dict(self) -> dict[str, Any]:
        return {"repeats": self.repeats, "share": self.share, "seed": self.seed}


def add_arguments(group: argparse._ArgumentGroup) -> None:
    """The `bolt-eval run` flags of this module."""
    group.add_argument("--judge-repeats", type=int, metavar="K",
                       help="re-ask a seeded share of the items' judgments K more times (each its own ledger row): "
                            "the judge's own variability and a headline CI incl. judge noise (docs/judge-noise.md)")
    group.add_argument("--judge-repeat-share", type=float, metavar="S",
                       help="share of the items whose judgments are repeated; 0.1 when not given")


def from_args(args: argparse.Namespace) -> NoiseSpec | None:
    """The NoiseSpec the flags ask for, or None (checked here: a bad value fails before any work)."""
    k, share = getattr(args, "judge_repeats", None), getattr(args, "judge_repeat_share", None)
    if k is None:
        if share is not None:
            raise UserError("--judge-repeat-share needs --judge-repeats K (how many more times to ask)")
        return None
    if k < 1:
        raise UserError(f"--judge-repeats {k}: give at least 1 (or leave the flag out for no repeats)")
    if getattr(args, "judge_mode", "live") == "batch":
        raise UserError(BATCH_REFUSAL)
    share = 0.1 if share is None else share
    if not 0.0 < share <= 1.0:
        raise UserError(f"--judge-repeat-share {share}: give a share in (0, 1], e.g. 0.1 for a tenth of the items")
    return NoiseSpec(k, share)


def chosen(ids: list[str], share: float, seed: int = 0) -> set[str]:
    """The ceil(share * n) ids ranking first by sha256(seed, id): the same items for any K,
    and for a larger share a superset."""
    ranked = sorted(ids, key=lambda i: hashlib.sha256(f"{seed}\x00{i}".encode()).hexdigest())
    return set(ranked[:math.ceil(share * len(ids) - 1e-9)])


def warn_greedy(judge: Any) -> None:
    """At temperature 0 repeats measure only nondeterminism: say so (once per judged task)."""
    if judge.spec.params.temperature > 0:
        return
    local = judge.constrain or judge.spec.backend.backend in ("hf", "vllm", "vllm-serve")
    what = ("a local greedy judge repeats itself exactly: the repeats will show no noise" if local else
            "repeats of a greedy API judge measure only the API's nondeterminism, not the judge's sampling noise")
    print(f"bolt-eval: warning: --judge-repeats with judge temperature 0: {what}", file=sys.stderr)


def repeat_judge(judge: Any, r: int) -> Any:
    """The judge asked for repeat r: a Judge of its own whose seed is moved by r strides (so
    its keys and its samples differ from the original's), sharing the original's backend
    (one model or client), ledger, meter and budget."""
    from bolt_eval.judging.judge import Judge

    params = judge.spec.params.with_(seed=judge.spec.params.seed + r * REPEAT_SEED_STRIDE)
    other = Judge(replace(judge.spec, params=params), judge.ledger, judge.meter, judge.budget)
    other.backend, other.live = judge.backend, getattr(judge, "live", True)
    return other


def pending_repeats(judge: Any, records: list[dict[str, Any]], calls: list[tuple[int, int, str, Any]],
                    spec: NoiseSpec | None) -> list[Any]:
    """The repeat calls the ledger does not answer yet (for --dry-run and the preflight)."""
    if spec is None:
        return []
    ids = chosen([r["id"] for r in records], spec.share, spec.seed)
    picked = [p for i, _, _, p in calls if records[i]["id"] in ids]
    return [p for r in range(1, spec.repeats + 1) for p in repeat_judge(judge, r).pending(picked)]


def repeats_needed(plan: Any, done: dict[str, dict[str, Any]], spec: NoiseSpec | None) -> bool:
    """Whether a run's repeats still call its judge (the runner then checks the judge can work)."""
    if spec is None or plan.judge is None:
        return False
    if not all(s.id in done for s in plan.samples):
        return True
    from bolt_eval.judging.phase import prompts_for

    records = [done[s.id] for s in plan.samples]
    return bool(pending_repeats(plan.judge, records, prompts_for(plan.task, plan.samples, records, plan.templates), spec))


def add_repeats(records: list[dict[str, Any]], calls: list[tuple[int, int, str, Any]], judge: Any,
                spec: NoiseSpec, progress: Callable[[int], None] | None = None) -> tuple[list[dict[str, Any]], int]:
    """Ask the chosen items' judgments K more times through the ledger; returns copies of
    `records` (as `judge_records` left them) with `judgments[name]["repeats"]` (repeat 1..K,
    each as the ledger's public row) and the judge calls made."""
    ids = chosen([r["id"] for r in records], spec.share, spec.seed)
    picked = [(i, k, name, p) for i, k, name, p in calls if records[i]["id"] in ids]
    out = [{**r, "outputs": [{**o, "judgments": {n: dict(j) for n, j in o["judgments"].items()}}
                             for o in r["outputs"]]} for r in records]
    made = 0
    for r in range(1, spec.repeats + 1):
        j = repeat_judge(judge, r)
        before = j.calls
        entries = j.run([p for *_, p in picked], progress)
        made += j.calls - before
        for (i, k, name, _), e in zip(picked, entries):
            out[i]["outputs"][k]["judgments"][name].setdefault("repeats", []).append(e.public())
    judge.calls += made
    return out, made


# -- the judge's variability ---------------------------------------------------------------

def _value(verdict: Any) -> float | str:
    """A verdict as a grade (MT-Bench rating, WB-Score) or a label (Arena-Hard, WB-Reward)."""
    if isinstance(verdict, dict) and "score" in verdict:
        return float(verdict["score"])
    if isinstance(verdict, (int, float)) and not isinstance(verdict, bool):
        return float(verdict)
    return str(verdict)


def repeated_verdicts(records: list[dict[str, Any]]) -> list[list[float | str]]:
    """Per repeated judgment, its verdicts with one (the original's first, then each repeat's)."""
    out = []
    for r in records:
        for o in r["outputs"]:
            for j in o["judgments"].values():
                if "repeats" in j:
                    out.append([_value(x["verdict"]) for x in (j, *j["repeats"]) if x["status"] == "ok"])
    return out


def fleiss_kappa(groups: list[list[Any]]) -> float | None:
    """Fleiss' kappa (1971) over judgments (subjects) with any number >= 2 of verdicts each
    (the raters), verdicts as nominal categories. None when every verdict is the same
    category (chance agreement 1: kappa undefined)."""
    groups = [g for g in groups if len(g) >= 2]
    if not groups:
        return None
    agree = sum(_agreement(g) for g in groups) / len(groups)
    totals = Counter(v for g in groups for v in g)
    n = sum(totals.values())
    chance = sum((c / n) ** 2 for c in totals.values())
    return None if chance >= 1.0 - 1e-12 else (agree - chance) / (1.0 - chance)


def _agreement(verdicts: list[Any]) -> float:
    """Share of pairs of verdicts that agree exactly."""
    n = len(verdicts)
    return sum(c * (c - 1) for c in Counter(verdicts).values()) / (n * (n - 1))


def variability(records: list[dict[str, Any]]) -> dict[str, Any]:
    """The judge's disagreement with itself, per kind of verdict: `graded` (1-10 grades) and
    `pairwise` (labels). Only judgments with at least two verdicts count."""
    groups = [g for g in repeated_verdicts(records) if len(g) >= 2]
    out: dict[str, Any] = {}
    for kind, keep in (("graded", lambda g: isinstance(g[0], float)), ("pairwise", lambda g: isinstance(g[0], str))):
        gs = [g for g in groups if keep(g)]
        if not gs:
            continue
        kappa = fleiss_kappa(gs)
        entry: dict[str, Any] = {
            "judgments": len(gs), "verdicts": sum(map(len, gs)),
            "agreement": round(sum(map(_agreement, gs)) / len(gs), 6),  # two verdicts of a judgment agree
            "all_agree": round(sum(len(set(g)) == 1 for g in gs) / len(gs), 6),
            "fleiss_kappa": None if kappa is None else round(kappa, 6),
        }
        if kind == "graded":
            within = sum(sum((x - sum(g) / len(g)) ** 2 for x in g) for g in gs)  # type: ignore[misc]
            entry["sd"] = round(math.sqrt(within / sum(len(g) - 1 for g in gs)), 6)
            entry["mean_abs_diff"] = round(sum(abs(a - b) for g in gs for i, a in enumerate(g) for b in g[i + 1:])  # type: ignore[operator]
                                           / sum(len(g) * (len(g) - 1) / 2 for g in gs), 6)
        out[kind] = entry
    return out


def has_repeats(records: list[dict[str, Any]]) -> bool:
    return any("repeats" in j for r in records for o in r["outputs"] for j in o.get("judgments", {}).values())


def summarise(task: Any, samples: list[Any], records: list[dict[str, Any]], spec: NoiseSpec | None,
              headline: dict[str, Any]) -> dict[str, Any] | None:
    """`summary["judge_noise"]` of a run whose records hold repeats, else None: the settings,
    how many items and repeats, the judge's variability, and the headline with the
    two-level interval next to the item-only one (`width_ratio`)."""
    if not has_repeats(records):
        return None
    from bolt_eval.noise_bootstrap import widened_headline

    repeated = [r for r in records if any("repeats" in j for o in r["outputs"] for j in o["judgments"].values())]
    statuses = Counter(x["status"] for r in repeated for o in r["outputs"] for j in o["judgments"].values()
                       for x in j.get("repeats", []))
    out: dict[str, Any] = {**(spec.to_dict() if spec else {}), "items_repeated": len(repeated),
                           "repeats_by_status": dict(sorted(statuses.items())), **variability(records)}
    est = widened_headline(task, samples, records, headline)
    if est is not None:
        width = headline["hi"] - headline["lo"]
        out["headline"] = {"metric": headline["metric"], "ci": CI_LABEL, **est.to_dict(),
                           "width_ratio": round((est.hi - est.lo) / width, 6) if width > 0 else None}
    return out


def judge_again(judged: Any, calls: list[tuple[int, int, str, Any]], judge: Any, spec: NoiseSpec, name: str,
                show_progress: bool = True) -> Any:
    """The runner's hook after a task's judging phase (`phase.Judged` in and out): the
    repeats of `spec` attached to the judged records, their calls and tokens added."""
    from bolt_eval.progress import progress_bar

    if not getattr(judge, "live", True):  # a batch judge (judging/batch.py) never calls live
        raise UserError(BATCH_REFUSAL)
    warn_greedy(judge)
    ids = chosen([r["id"] for r in judged.records], spec.share, spec.seed)
    total = spec.repeats * sum(judged.records[i]["id"] in ids for i, *_ in calls)
    bar = progress_bar(total, f"{name} judge repeats ({len(ids)} items x {spec.repeats})", show_progress)
    records, made = add_repeats(judged.records, calls, judge, spec, bar.update)
    bar.close()
    keys = sorted({x["key"] for r in records for o in r["outputs"] for j in o["judgments"].values()
                   for x in j.get("repeats", [])})
    rows = judge.ledger.get(keys).values()  # each repeat paid once, whatever shares its key
    tokens = {"prompt": judged.tokens["prompt"] + sum(e.prompt_tokens for e in rows),
              "completion": judged.tokens["completion"] + sum(e.completion_tokens for e in rows),
              "calls": judged.tokens["calls"] + sum(e.attempts for e in rows)}
    return replace(judged, records=records, tokens=tokens, calls_made=judged.calls_made + made)
