"""Judge calls per second, bolt-eval vs a thread pool, against a loopback server with a fixed
latency (100 ms per call).

bolt-eval: `Judge.run` with the `openai` backend at the given concurrency, so every call
goes through the ledger (lookup, then a write per judgment), the async client and the
verdict parser. The alternative is how FastChat's and arena-hard-auto's judge scripts do
it: a `ThreadPoolExecutor` of the same size, each thread calling the same (sync) OpenAI
client and parsing the reply with the same parser, nothing stored. Both make the same
number of distinct calls against the same server; the ideal is concurrency / latency.

The server is bench/cases/_fast_server.py (asyncio worker processes), and its own ceiling
is measured at each concurrency with a minimal client (raw keep-alive sockets), so a
figure below the ideal can be told apart from the server's limit. Client CPU is this
process's CPU time (the server runs in other processes), per call. The three are run
interleaved, `repeats` times, and the medians reported: the machine is shared.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from cases._fast_server import ceiling, serve

TITLE = "3. Judging: calls/s, bolt-eval vs a thread pool of the same size (100 ms latency)"
ORDER = 3
LATENCY_S = 0.1
MODEL = "bench-judge"


def reply(body: dict[str, Any]) -> str:
    return "The answer is fine. Rating: [[7]]"


def _messages(i: int) -> tuple[dict[str, str], ...]:
    return ({"role": "user", "content": f"Grade answer {i}: the capital of France is Paris."},)


def bolt_eval(base_url: str, concurrency: int, calls: int) -> tuple[float, float]:
    """(calls/s, client CPU s per call) through Judge.run with a fresh ledger."""
    from bolt_eval.backends.base import BackendSpec
    from bolt_eval.judging.cost import Budget, Meter
    from bolt_eval.judging.judge import Judge, JudgePrompt, JudgeSpec
    from bolt_eval.judging.ledger import Ledger

    prompts = [JudgePrompt("bench@0", _messages(i), "rating") for i in range(calls)]
    with tempfile.TemporaryDirectory() as tmp, Ledger(Path(tmp) / "j.sqlite") as ledger:
        spec = JudgeSpec(BackendSpec("openai", MODEL, base_url=base_url, concurrency=concurrency))
        judge = Judge(spec, ledger, Meter("openai", MODEL, None), Budget(None))
        wall, cpu = time.perf_counter(), time.process_time()
        entries = judge.run(prompts)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        judge.close()
    assert judge.calls == calls and all(e.status == "ok" for e in entries), "bolt-eval: not every call judged"
    return calls / wall, cpu / calls


def thread_pool(base_url: str, concurrency: int, calls: int) -> tuple[float, float]:
    """(calls/s, client CPU s per call) of a ThreadPoolExecutor over one sync client, the
    client's construction (~30-55 ms of CPU: its SSL context) timed as bolt-eval's is."""
    from concurrent.futures import ThreadPoolExecutor

    from openai import OpenAI

    from bolt_eval.judging.parsers import PARSERS

    parser = PARSERS["rating"]
    wall, cpu = time.perf_counter(), time.process_time()  # the client is built inside, as Judge.run builds its own
    client = OpenAI(api_key="EMPTY", base_url=base_url, max_retries=6, timeout=120.0)

    def one(i: int) -> Any:
        resp = client.chat.completions.create(model=MODEL, messages=list(_messages(i)), temperature=0.0,
                                              max_tokens=2048)
        return parser.parse(resp.choices[0].message.content)

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        verdicts = list(pool.map(one, range(calls)))
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    client.close()
    assert all(v is not None for v in verdicts), "thread pool: a reply without a verdict"
    return calls / wall, cpu / calls


def run(quick: bool) -> dict[str, Any]:
    levels = (1, 8, 32) if quick else (1, 8, 32, 64, 128)
    repeats, seconds = (1, 0.5) if quick else (3, 2.0)
    rows = []
    with serve(reply, LATENCY_S) as server:
        thread_pool(server.base_url, 4, 8)  # warm-up: imports, first connections
        bolt_eval(server.base_url, 4, 8)
        for c in levels:
            calls = max(10, min(1280, int(c / LATENCY_S * seconds)))  # `seconds` at the ideal rate
            runs: dict[str, list[tuple[float, float]]] = {"bolt": [], "pool": [], "server": []}
            for _ in range(repeats):  # interleaved, so drifting load hits all alike
                runs["server"].append((ceiling(server.base_url, c, calls), 0.0))
                runs["bolt"].append(bolt_eval(server.base_url, c, calls))
                runs["pool"].append(thread_pool(server.base_url, c, calls))
            med = {k: (statistics.median(r for r, _ in v), statistics.median(u for _, u in v)) for k, v in runs.items()}
            ideal = c / LATENCY_S
            rows.append({
                "concurrency": c, "calls": calls, "ideal_calls/s": ideal, "server_ceiling_calls/s": med["server"][0],
                "bolt-eval_calls/s": med["bolt"][0], "thread_pool_calls/s": med["pool"][0],
                "ratio": med["bolt"][0] / med["pool"][0], "bolt-eval_over_ideal": med["bolt"][0] / ideal,
                "bolt-eval_CPU_ms/call": med["bolt"][1] * 1e3, "thread_pool_CPU_ms/call": med["pool"][1] * 1e3,
                "CPU_ratio": med["bolt"][1] / med["pool"][1],
            })
    notes = [f"median of {repeats} interleaved repeats; ratio: bolt-eval calls/s over the pool's (> 1: bolt-eval is faster); "
             "CPU ratio likewise for client CPU per call (< 1: bolt-eval spends less)",
             "bolt-eval stores every judgment in its SQLite ledger (the pool stores nothing): its CPU includes that",
             "server ceiling: the same server driven by a minimal client (raw keep-alive sockets, prebuilt request) at the "
             "same concurrency; where it is below the ideal, the machine (server and client on the same cores), not the "
             "client under test, sets the limit"]
    return {"rows": rows, "notes": notes}
