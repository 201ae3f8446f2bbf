"""Generation with the `hf` backend: bolt-eval vs one `generate` per prompt vs one raw
batched `generate`, on the same model object, prompts and greedy settings.

Prompts: the first turns of the first 64 MT-Bench questions (the package's official
file), through the model's chat template; greedy, at most 64 new tokens. The default model
(SmolLM2-135M-Instruct), fp32 on CPU.

- bolt-eval: `HFBackend.generate` with `batch_size` 64, i.e. one batch, as the raw call;
  what it adds is the harness (rendering, sorting, decoding, finish reasons).
- sequential: one `model.generate` per prompt, as per-question scripts of other
  harnesses do it.
- raw: one `model.generate` on all 64 prompts, left-padded.

Tokens are counted alike for all three: new tokens up to and including the first
end-of-sequence token (padding after it is not counted).
"""

from __future__ import annotations

import statistics
import time
from typing import Any

TITLE = "1. Generation, hf backend: bolt-eval vs one generate per prompt vs one raw batched generate"
ORDER = 1


def _count(new_ids: list[list[int]], eos: set[int]) -> int:
    return sum(next((j + 1 for j, t in enumerate(ids) if t in eos), len(ids)) for ids in new_ids)


def run(quick: bool) -> dict[str, Any]:
    import torch

    from bolt_eval.backends.base import BackendSpec, build_backend
    from bolt_eval.registry import benchmarks
    from bolt_eval.types import Request, SamplingParams

    n_prompts, max_new, repeats = (4, 4, 1) if quick else (64, 64, 1)
    questions = benchmarks.get("mt_bench")().load().samples[:n_prompts]
    conversations = [({"role": "user", "content": s.turns[0]},) for s in questions]
    params = SamplingParams(temperature=0.0, max_new_tokens=max_new)
    backend: Any = build_backend(BackendSpec("hf", "default", device="cpu", dtype="float32", batch_size=n_prompts))
    model, tok = backend.model, backend.tokenizer
    eos = backend._eos_ids()
    greedy = {"max_new_tokens": max_new, "do_sample": False, "temperature": None, "top_p": None, "top_k": None,
              "pad_token_id": tok.pad_token_id}
    texts = [tok.apply_chat_template(list(c), tokenize=False, add_generation_prompt=True) for c in conversations]

    def bolt_eval() -> int:
        out = backend.generate([Request(str(i), 0, c, params) for i, c in enumerate(conversations)])
        return sum(cs[0].completion_tokens for cs in out)

    def sequential() -> int:
        tokens = 0
        for text in texts:
            enc = tok(text, return_tensors="pt", add_special_tokens=False)
            with torch.inference_mode():
                out = model.generate(**enc, **greedy)
            tokens += _count(out[:, enc["input_ids"].shape[1]:].tolist(), eos)
        return tokens

    def raw() -> int:
        enc = tok(texts, return_tensors="pt", padding=True, add_special_tokens=False)
        with torch.inference_mode():
            out = model.generate(**enc, **greedy)
        return _count(out[:, enc["input_ids"].shape[1]:].tolist(), eos)

    approaches = {"bolt-eval": bolt_eval, "sequential": sequential, "raw": raw}
    raw()  # warm-up: first-call allocations
    walls: dict[str, list[float]] = {k: [] for k in approaches}
    tokens: dict[str, int] = {}
    for _ in range(repeats):  # interleaved, so drifting load hits all three alike
        for name, fn in approaches.items():
            t0 = time.perf_counter()
            tokens[name] = fn()
            walls[name].append(time.perf_counter() - t0)
    rate = {k: tokens[k] / statistics.median(walls[k]) for k in approaches}
    rows = [{"approach": name, "generate_calls": n_prompts if name == "sequential" else 1, "tokens": tokens[name],
             "wall_s": statistics.median(walls[name]), "tokens/s": rate[name],
             "speed-up_vs_sequential": rate[name] / rate["sequential"], "speed_vs_raw": rate[name] / rate["raw"]}
            for name in approaches]
    notes = [f"{n_prompts} prompts, greedy, at most {max_new} new tokens; median of {repeats} interleaved repeat(s) "
             f"after a warm-up; torch threads: {torch.get_num_threads()}",
             "speed vs raw below 1 is bolt-eval's overhead over the bare engine call of the same batch",
             "bolt-eval's default --batch-size is 16; here it is 64, the same batch as the raw call"]
    return {"rows": rows, "notes": notes}
