"""`--dry-run`: what an evaluation would still do and cost, computed before any call.

It plans the run exactly as `evaluate` does (same run folders, same judgment keys), counts
the generations missing from each run folder and the judge calls missing from the ledger,
and estimates tokens: 4 characters a token for text that exists, `max_new_tokens` for text
not generated yet (so the estimate is an upper bound), priced from the price table. A task
whose data or judge templates cannot be had (offline, say) is listed below the table with
the reason, and the others are still estimated.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from tabulate import tabulate

from bolt_eval.best_of import resolve
from bolt_eval.judging import noise
from bolt_eval.judging.cost import Budget, Meter, estimate_tokens, load_prices
from bolt_eval.judging.phase import prompts_for
from bolt_eval.runner import EvalConfig, Plan, _any_judged, plan
from bolt_eval.store import Store
from bolt_eval.types import Sample, UserError


def dry_run(cfg: EvalConfig) -> str:
    cfg = resolve(cfg)  # Best-of-N: n = N, label -boN, as evaluate() runs it
    prices = load_prices(cfg.prices)
    store = Store(cfg.out)
    meter = Meter.for_model(cfg.backend.backend, cfg.backend.model, prices)
    ledger = store.ledger() if _any_judged(cfg) else None
    rows, unavailable = [], []
    try:
        for spec in cfg.tasks:  # task by task: a task whose data cannot be had is named, not fatal
            try:
                plans = plan(replace(cfg, tasks=[spec]), ledger, Budget(None), prices)
            except UserError as err:
                unavailable.append(str(err) if str(err).startswith(spec.name) else f"{spec.name}: {err}")
                continue
            rows += [_row(p, store.peek(p.run_id), cfg, meter) for p in plans]
    finally:
        if ledger:
            ledger.close()
    total = [sum(r[i] for r in rows) for i in (1, 2, 4, 5)]
    costs = [r[6] for r in rows]
    rows.append(["total" + (f" ({len(rows)} of {len(cfg.tasks)} tasks)" if unavailable else ""), *total[:2], "",
                 *total[2:], sum(costs) if None not in costs else None])
    for r in rows:
        r[6] = "unknown price" if r[6] is None else f"${r[6]:.2f}"
    table = tabulate(rows, headers=["task", "generations", "candidate tokens (≤)", "judge", "judge calls",
                                    "judge tokens (≤)", "cost (≤)"], tablefmt="github", disable_numparse=True)
    notes = [f"not estimated (a run would stop here): {u}" for u in unavailable]
    if cfg.batch:  # the judge's Meter is already at the batch rate (judging/batch.py adopt)
        notes.append(f"judge calls priced at the Batch API rate: {cfg.batch.discount:g} x the price table")
    return "\n".join([table, *notes, "nothing was called; token figures are upper bounds (unwritten answers count "
                                      "max_new_tokens)"])


def _row(p: Plan, done: dict[str, Any], cfg: EvalConfig, meter: Meter) -> list[Any]:
    todo = [s for s in p.samples if s.id not in done]
    gens, cand_in, cand_out = 0, 0, 0
    for s in todo:
        params = p.task.sampling(s, cfg.sampling)
        for t in range(len(s.turns)):  # turn t sees the earlier questions and answers
            context = sum(estimate_tokens(p.task.prompt(s, u)) for u in range(t + 1)) + t * params.max_new_tokens
            gens += params.n
            cand_in += params.n * context
            cand_out += params.n * params.max_new_tokens
    cost = meter.usd(cand_in, cand_out)
    judge_name, calls, j_in, j_out = "-", 0, 0, 0
    if p.judge is not None:
        records = [done.get(s.id) or _unwritten(s, p, cfg) for s in p.samples]
        calls_for = prompts_for(p.task, p.samples, records, p.templates)
        pending = p.judge.pending([pr for *_, pr in calls_for]) + noise.pending_repeats(p.judge, records, calls_for,
                                                                                       cfg.judge_noise)
        if cfg.batch:  # a judgment in a running batch is paid for already
            from bolt_eval.judging.batch import unsent

            pending = unsent(p.judge, pending)
        calls = len(pending)
        j_in = sum(estimate_tokens(m["content"]) for pr in pending for m in pr.messages)
        j_out = calls * p.judge.spec.params.max_new_tokens
        judge_cost = p.judge.meter.usd(j_in, j_out)
        cost = None if cost is None or judge_cost is None else cost + judge_cost
        judge_name = p.judge.spec.backend.model
    return [p.task.name, gens, cand_in + cand_out, judge_name, calls, j_in + j_out, cost]


def _unwritten(sample: Sample, p: Plan, cfg: EvalConfig) -> dict[str, Any]:
    """A stand-in record for a sample not generated yet: answers of max_new_tokens tokens,
    each output a distinct placeholder so none share a judgment."""
    params = p.task.sampling(sample, cfg.sampling)
    return {"id": sample.id, "outputs": [
        {"turns": [{"solution": f"{k}" + "x" * (4 * params.max_new_tokens)} for _ in sample.turns]}
        for k in range(params.n)]}
