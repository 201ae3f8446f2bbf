"""Judge calls per second through the whole engine (ledger, parser, openai backend) against
the loopback OpenAI-compatible server with a fixed injected latency.

    python bench/judge_throughput.py [--latency 0.1] [--calls 640] [--concurrency 1,8,32,64]

The ceiling is concurrency / latency; the table shows how close the engine gets.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from openai_server import LoopbackServer  # noqa: E402
from tabulate import tabulate  # noqa: E402

from bolt_eval.backends.base import BackendSpec  # noqa: E402
from bolt_eval.judging.cost import Budget, Meter  # noqa: E402
from bolt_eval.judging.judge import Judge, JudgePrompt, JudgeSpec  # noqa: E402
from bolt_eval.judging.ledger import Ledger  # noqa: E402


def serve(latency: float, port: mp.Queue, stop: mp.Event) -> None:
    """The loopback server in its own process, so it does not share the engine's GIL."""
    with LoopbackServer(lambda body: "Rating: [[7]]", latency_s=latency) as server:
        port.put(server.base_url)
        stop.wait()


def measure(base_url: str, concurrency: int, calls: int) -> float:
    with tempfile.TemporaryDirectory() as tmp, Ledger(Path(tmp) / "j.sqlite") as ledger:
        spec = JudgeSpec(BackendSpec("openai", "bench-judge", base_url=base_url, concurrency=concurrency))
        judge = Judge(spec, ledger, Meter("openai", "bench-judge", None), Budget(None))
        prompts = [JudgePrompt("bench@0", ({"role": "user", "content": f"grade answer {i}"},), "rating")
                   for i in range(calls)]
        t0 = time.perf_counter()
        entries = judge.run(prompts)
        wall = time.perf_counter() - t0
        assert all(e.status == "ok" for e in entries)
        return calls / wall


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--latency", type=float, default=0.1)
    ap.add_argument("--calls", type=int, default=640)
    ap.add_argument("--concurrency", default="1,8,32,64")
    args = ap.parse_args()
    rows = []
    queue, stop = mp.Queue(), mp.Event()
    proc = mp.Process(target=serve, args=(args.latency, queue, stop), daemon=True)
    proc.start()
    base_url = queue.get(timeout=30)
    try:
        for c in (int(x) for x in args.concurrency.split(",")):
            n = min(args.calls, max(20, int(c / args.latency * 5)))  # about 5 s at the ceiling
            rate = measure(base_url, c, n)
            ceiling = c / args.latency
            rows.append([c, n, f"{rate:.1f}", f"{ceiling:.0f}", f"{rate / ceiling:.0%}"])
    finally:
        stop.set()
        proc.join(5)
    print(tabulate(rows, headers=["concurrency", "calls", "calls/s", "ceiling", "of ceiling"], tablefmt="github"))


if __name__ == "__main__":
    main()
