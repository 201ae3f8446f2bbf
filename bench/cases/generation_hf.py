"""Generation with the `hf` backend: bolt-eval vs one `generate` per prompt vs raw batched
`generate` calls, on the same model object, prompts and greedy settings.

Prompts: the first turns of the first 64 MT-Bench questions (the package's official
file), through the model's chat template; greedy, at most 32 new tokens. The default model
(SmolLM2-135M-Instruct), fp32 on CPU.

- bolt-eval: `HFBackend.generate` as users get it: `--batch-size` 16, prompts sorted by
  length, left padding.
- sequential: one `model.generate` per prompt, as per-question scripts of other
  harnesses do it.
- raw: `model.generate` on the same batches bolt-eval makes (16 prompts each, the same
  length order), so the difference is the harness alone (rendering, decoding, records).

Tokens are counted alike for all three: new tokens up to and including the first
end-of-sequence token (padding after it is not counted).

One torch thread: with two threads on two cores shared with any other busy process, every
parallel op waits for a descheduled thread, and one approach's time could swing 20-fold
against another's (measured here); one thread keeps the side-by-side ratios meaningful.
"""

from __future__ import annotations

from typing import Any

from cases._timing import interleaved

TITLE = "1. Generation, hf backend: bolt-eval vs one generate per prompt vs raw batched generate"
ORDER = 1
BATCH = 16  # bolt-eval's default --batch-size


def _count(new_ids: list[list[int]], eos: set[int]) -> int:
    return sum(next((j + 1 for j, t in enumerate(ids) if t in eos), len(ids)) for ids in new_ids)


def run(quick: bool) -> dict[str, Any]:
    import torch

    from bolt_eval.backends.base import BackendSpec, build_backend
    from bolt_eval.registry import benchmarks
    from bolt_eval.types import Request, SamplingParams

    torch.set_num_threads(1)
    n_prompts, max_new, repeats = (6, 4, 1) if quick else (64, 32, 1)
    batch = 4 if quick else BATCH
    questions = benchmarks.get("mt_bench")().load().samples[:n_prompts]
    conversations = [({"role": "user", "content": s.turns[0]},) for s in questions]
    params = SamplingParams(temperature=0.0, max_new_tokens=max_new)
    backend: Any = build_backend(BackendSpec("hf", "default", device="cpu", dtype="float32", batch_size=batch))
    model, tok = backend.model, backend.tokenizer
    eos = backend._eos_ids()
    greedy = {"max_new_tokens": max_new, "do_sample": False, "temperature": None, "top_p": None, "top_k": None,
              "pad_token_id": tok.pad_token_id}
    texts = [tok.apply_chat_template(list(c), tokenize=False, add_generation_prompt=True) for c in conversations]
    by_length = sorted(texts, key=lambda t: -len(t))  # the order HFBackend batches in

    def bolt_eval() -> int:
        out = backend.generate([Request(str(i), 0, c, params) for i, c in enumerate(conversations)])
        return sum(cs[0].completion_tokens for cs in out)

    def generate(prompts: list[str]) -> int:
        enc = tok(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
        with torch.inference_mode():
            out = model.generate(**enc, **greedy)
        return _count(out[:, enc["input_ids"].shape[1]:].tolist(), eos)

    def sequential() -> int:
        return sum(generate([t]) for t in texts)

    def raw() -> int:
        return sum(generate(by_length[i:i + batch]) for i in range(0, n_prompts, batch))

    approaches = {"bolt-eval": bolt_eval, "sequential": sequential, "raw": raw}
    calls = {"bolt-eval": -(-n_prompts // batch), "sequential": n_prompts, "raw": -(-n_prompts // batch)}
    generate(texts[:2])  # warm-up: first-call allocations
    wall, tokens = interleaved(approaches, repeats)  # interleaved: drifting load hits all alike
    rate = {k: tokens[k] / wall[k] for k in approaches}
    rows = [{"approach": name, "generate_calls": calls[name], "tokens": tokens[name],
             "wall_s": wall[name], "tokens/s": rate[name],
             "speed-up_vs_sequential": rate[name] / rate["sequential"], "speed_vs_raw": rate[name] / rate["raw"]}
            for name in approaches]
    notes = [f"{n_prompts} prompts, greedy, at most {max_new} new tokens, batches of {batch}; "
             f"{repeats} run(s) of each, interleaved, after a warm-up; one torch thread (see the case's docstring)",
             "speed vs raw below 1 is bolt-eval's overhead over bare `generate` calls on the same batches"]
    return {"rows": rows, "notes": notes}
