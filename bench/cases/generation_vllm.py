"""Generation with the `vllm` backend on CPU: a whole `bolt-eval run --backend vllm`
generation phase vs one bare `LLM.chat` call, on the same engine and prompts; and the
start-up times of the offline engine and of a managed `vllm serve`.

Prompts: the first turns of the first 64 MT-Bench questions, given to bolt-eval as a
MATH500-format data file, so the run has no judge and its phase is generation (plus
scoring and writing samples.jsonl); the bare call gets exactly the messages the task
builds. Greedy, at most 64 new tokens, the default model in float32.

- bolt-eval: `runner.evaluate` (what `bolt-eval run` calls) with the engine already
  loaded (start-up is measured on its own row): planning, chunking (`--batch-size` 256
  here, its default for vllm: one chunk), a `SamplingParams` per request, record
  building, durable appends, aggregation, manifest and summary. A fresh results folder per
  repeat, so nothing is resumed.
- bare: `LLM.chat(messages, SamplingParams(...))` once, one SamplingParams for all.

Runs in the environment `nox -s vllm` builds (`.nox/vllm`), or the interpreter named by
BOLT_EVAL_VLLM_PYTHON.
"""

from __future__ import annotations

import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

TITLE = "2. Generation, vllm backend (CPU): a bolt-eval run's generation phase vs a bare LLM.chat"
ORDER = 2
ROOT = Path(__file__).resolve().parents[2]
ENGINE = {"max_model_len": 2048, "enforce_eager": True}


def python() -> str:
    return os.environ.get("BOLT_EVAL_VLLM_PYTHON") or str(ROOT / ".nox" / "vllm" / "bin" / "python")


class Loaded:
    """The loaded engine handed to the runner in place of building one; its `close` is a
    no-op so the same engine serves every repeat."""

    def __init__(self, backend: Any) -> None:
        self.backend = backend

    def __getattr__(self, name: str) -> Any:
        return getattr(self.backend, name)

    def close(self) -> None:
        pass


def run(quick: bool) -> dict[str, Any]:
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
    from vllm import SamplingParams as VSP

    from bolt_eval.backends import base
    from bolt_eval.backends.base import BackendSpec
    from bolt_eval.registry import benchmarks
    from bolt_eval.runner import EvalConfig, TaskSpec, evaluate
    from bolt_eval.serving import ManagedServer
    from bolt_eval.types import SamplingParams

    n_prompts, max_new, repeats = (4, 4, 1) if quick else (64, 64, 3)
    tmp = Path(tempfile.mkdtemp(prefix="bench-vllm-"))
    data = tmp / "prompts.jsonl"
    turns = [s.turns[0] for s in benchmarks.get("mt_bench")().load().samples[:n_prompts]]
    data.write_text("".join(json.dumps({"problem": t, "answer": "0", "subject": "bench", "level": 1,
                                        "unique_id": f"q{i}"}) + "\n" for i, t in enumerate(turns)))
    spec = BackendSpec("vllm", "default", dtype="float32", batch_size=256, options=ENGINE)
    t0 = time.perf_counter()
    engine = base.build_backend(spec)
    engine_start = time.perf_counter() - t0
    base.build_backend = lambda _spec: Loaded(engine)  # the runner's LazyBackend builds through this
    task = benchmarks.get("math500")(data=str(data))
    samples = task.load().samples
    messages = [[{"role": "user", "content": task.prompt(s, 0)}] for s in samples]
    params = SamplingParams(max_new_tokens=max_new)

    def bolt_eval(k: int) -> int:
        cfg = EvalConfig(tasks=[TaskSpec("math500", str(data))], backend=spec, sampling=params,
                         out=str(tmp / f"results-{k}"), progress=False)
        [result] = evaluate(cfg)
        rows = [json.loads(line) for line in (result.dir / "samples.jsonl").read_text().splitlines()]
        return sum(r["outputs"][0]["turns"][0]["completion_tokens"] for r in rows)

    def bare(k: int) -> int:
        outs = engine.llm.chat(messages, VSP(temperature=0.0, max_tokens=max_new), use_tqdm=False)
        return sum(len(o.outputs[0].token_ids) for o in outs)

    bare(-1)  # warm-up
    approaches = {"bolt-eval run (generation phase)": bolt_eval, "bare LLM.chat": bare}
    walls: dict[str, list[float]] = {k: [] for k in approaches}
    tokens: dict[str, int] = {}
    for k in range(repeats):  # interleaved, so drifting load hits both alike
        for name, fn in approaches.items():
            t1 = time.perf_counter()
            tokens[name] = fn(k)
            walls[name].append(time.perf_counter() - t1)
    engine.close()
    server = ManagedServer(engine.describe()["model"]["location"], "bench", {"dtype": "float32", **ENGINE})
    t2 = time.perf_counter()
    server.start()
    serve_start = time.perf_counter() - t2
    server.stop()
    bare_s = statistics.median(walls["bare LLM.chat"])
    rows = [{"what": name, "tokens": tokens[name], "wall_s": statistics.median(w),
             "tokens/s": tokens[name] / statistics.median(w), "time_vs_bare": statistics.median(w) / bare_s}
            for name, w in walls.items()]
    rows += [{"what": "offline engine start-up (LLM(...))", "wall_s": engine_start},
             {"what": "managed `vllm serve` start-up until /health", "wall_s": serve_start}]
    notes = [f"{n_prompts} MT-Bench first turns, greedy, at most {max_new} new tokens; median of {repeats} "
             "interleaved repeat(s) after a warm-up; the same loaded engine for both",
             "time vs bare above 1 is bolt-eval's overhead; identical token counts mean identical work"]
    return {"rows": rows, "notes": notes}
