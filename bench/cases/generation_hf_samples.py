"""Sampling n answers per prompt with the `hf` backend, at the shape of stage 3 and the
held-out measurement: bolt-eval vs bare `generate` calls on the same model object.

Prompts: the first 8 ZebraLogic puzzles of `training/queries/tiny-zebra-online.jsonl` (one
iteration of the tiny recipe's stage 3, 730-750 tokens each through the chat template); n = 8
samples per prompt, temperature 0.7, top-p 0.95, at most 64 new tokens: 64 rows decoded in
one batch. The default model (SmolLM2-135M-Instruct), fp32 on CPU.

- bolt-eval: `HFBackend.generate` as stage 3 calls it: each prompt prefilled once, alone
  (without padding, since 2026-12-02's later change), its KV cache copied n times into a
  cache that decoding writes in place (backends/hf_cache.py;
  transformers' `StaticCache` until 2026-12-02, the same speed here: 36.3-46.4 s against
  35.6-43.2 s for 4096 tokens, two threads).
- one prefill, DynamicCache: the same single prefill and copies, decoded with transformers'
  default cache, which concatenates every layer's whole cache at every step. Past 32 MB a
  tensor (64 rows x 800 tokens: 39 MB a layer's keys) glibc serves every such allocation
  with fresh pages from the kernel, so each step also pays page faults for the whole cache;
  at 32 rows x 4 prompts the two caches decoded within 6% of each other.
- bare: `model.generate(num_return_sequences=n)`, which prefills every copy.

Tokens are counted alike (new tokens up to and including the first end-of-sequence token);
the samples differ between sides (the random draws meet different floating-point sums), so
the rate is tokens per second. One torch thread (see generation_hf.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cases._timing import interleaved

TITLE = "12. Generation, hf backend: n samples per prompt (stage 3's shape), bolt-eval vs bare generate"
ORDER = 12
PROMPTS = Path(__file__).resolve().parents[2] / "training" / "queries" / "tiny-zebra-online.jsonl"


def run(quick: bool) -> dict[str, Any]:
    import torch
    from transformers import DynamicCache

    from bolt_eval.backends.base import BackendSpec, build_backend
    from bolt_eval.training.recipe import DataSource
    from bolt_eval.training.sources import load_queries
    from bolt_eval.types import Request, SamplingParams

    torch.set_num_threads(1)
    n_prompts, n, max_new, repeats = (2, 2, 4, 1) if quick else (8, 8, 64, 1)
    queries, _ = load_queries([DataSource(path=str(PROMPTS), task="zebralogic", limit=n_prompts)])
    conversations = [({"role": "user", "content": q.prompt},) for q in queries]
    params = SamplingParams(temperature=0.7, top_p=0.95, max_new_tokens=max_new, n=n)
    backend: Any = build_backend(BackendSpec("hf", "default", device="cpu", dtype="float32", batch_size=n_prompts))
    model, tok = backend.model, backend.tokenizer
    eos = backend._eos_ids()
    texts = [tok.apply_chat_template(list(c), tokenize=False, add_generation_prompt=True) for c in conversations]
    enc = tok(texts, return_tensors="pt", padding=True, add_special_tokens=False)
    sampling = {"max_new_tokens": max_new, "do_sample": True, "temperature": 0.7, "top_p": 0.95,
                "pad_token_id": tok.pad_token_id}

    def count(out: Any, width: int) -> int:
        return sum(next((j + 1 for j, t in enumerate(ids) if t in eos), len(ids)) for ids in out[:, width:].tolist())

    def bolt_eval() -> int:
        out = backend.generate([Request(str(i), 0, c, params) for i, c in enumerate(conversations)])
        return sum(c.completion_tokens for cs in out for c in cs)

    def dynamic() -> int:
        mask = enc["attention_mask"][:, :-1]
        positions = (mask.long().cumsum(-1) - 1).clamp(min=0)
        torch.manual_seed(0)
        with torch.inference_mode():
            cache = model(input_ids=enc["input_ids"][:, :-1], attention_mask=mask, position_ids=positions,
                          past_key_values=DynamicCache(), use_cache=True).past_key_values
            cache.batch_repeat_interleave(n)
            out = model.generate(**{k: v.repeat_interleave(n, dim=0) for k, v in enc.items()},
                                 past_key_values=cache, **sampling)
        return count(out, enc["input_ids"].shape[1])

    def bare() -> int:
        torch.manual_seed(0)
        with torch.inference_mode():
            out = model.generate(**enc, num_return_sequences=n, **sampling)
        return count(out, enc["input_ids"].shape[1])

    approaches = {"bolt-eval": bolt_eval, "one prefill, DynamicCache": dynamic, "bare generate": bare}
    backend.generate([Request("w", 0, conversations[0], params.with_(n=2, max_new_tokens=2))])  # warm-up
    wall, tokens = interleaved(approaches, repeats)  # interleaved: drifting load hits all alike
    rate = {k: tokens[k] / wall[k] for k in approaches}
    table = [{"approach": name, "tokens": tokens[name], "wall_s": wall[name],
              "tokens/s": rate[name], "speed_vs_bare": rate[name] / rate["bare generate"]} for name in approaches]
    width = int(enc["attention_mask"].sum(dim=1).max())
    notes = [f"{n_prompts} prompts (up to {width} tokens) x {n} samples, temperature 0.7, top-p 0.95, at most "
             f"{max_new} new tokens, one batch; {repeats} run(s) of each, interleaved, after a warm-up; one torch thread",
             "speed vs bare above 1: faster than `generate(num_return_sequences=n)` in tokens per second"]
    return {"rows": table, "notes": notes}
