"""Stage 1: the bootstrap stage's generation phase against a bare engine call on the same
prompts (hf backend).

bolt-eval: `bolt_eval.training.bootstrap.run(recipe)` as `bolt-eval train bootstrap` runs it:
the ICL prompts (k exemplars per query), the hf backend loaded lazily, chunked generation
with n samples per query journalled chunk by chunk, the format check and format reward,
selection, the manifest. Bare: load the same model with transformers, then per chunk one
`model.generate` on the same rendered prompts in the backend's order (longest first, left
padding) with the same seed, sampling settings and `num_return_sequences=n`: the same
sampled tokens (the case checks the token counts agree), so the difference is the stage's
own work. vLLM is not measured here (case 2 measures the vllm backend's generation phase
against a bare LLM.chat; stage 1 calls the same backend).

A 4-layer Llama (hidden 128, _training_setup.small_llama), one torch thread (see
generation_hf.py); the sides alternate, each repeat back to back; median of the ratios.
"""

from __future__ import annotations

import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

TITLE = "10. Training, stage 1: bootstrap generation phase vs a bare generate on the same prompts (hf)"
ORDER = 10
ROOT = Path(__file__).resolve().parents[2]


def write_recipe(tmp: Path, model_dir: Path, queries: int, n: int, max_new: int, chunk: int) -> Path:
    import yaml
    from cases._training_setup import zebra_source

    source = zebra_source(tmp, queries, "queries.jsonl")
    path = tmp / "recipe.yaml"
    path.write_text(yaml.safe_dump({
        "name": "bench-bootstrap", "output_dir": str(tmp / "out"), "model": str(model_dir), "thoughts": "bolt",
        "eval": {"suite": "train-tiny"},
        "queries": {"sources": [{"path": str(source), "task": "zebralogic"}], "judge": None},
        "bootstrap": {"generator": {"model": str(model_dir), "backend": "hf", "batch_size": chunk, "device": "cpu",
                                    "dtype": "float32"},
                      "exemplars": str(ROOT / "training" / "exemplars"),
                      "k": 1, "n": n, "temperature": 1.0, "max_new_tokens": max_new},
        "reward": [{"kind": "format"}]}))
    return path


def bare(recipe: Any, model_dir: Path) -> int:
    """Load, then one generate per chunk with the stage's seeds; returns the tokens generated."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from bolt_eval.thoughts import get_delimiters
    from bolt_eval.training.exemplars import icl_messages, load_exemplars
    from bolt_eval.training.recipe import resolve_path
    from bolt_eval.training.sources import read_query_file

    cfg = recipe.bootstrap
    tok = AutoTokenizer.from_pretrained(model_dir)
    tok.padding_side = "left"
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    exemplars = load_exemplars(resolve_path(cfg.exemplars))
    queries = read_query_file(recipe.out / "queries" / "queries.jsonl")
    chunk = cfg.generator.batch_size
    eos = {tok.eos_token_id, tok.pad_token_id}
    tokens = 0
    for i in range(0, len(queries), chunk):
        texts = [tok.apply_chat_template(list(icl_messages(q.prompt, exemplars, cfg.k, recipe.seed, q.id,
                                                            delims=get_delimiters(recipe.thoughts))),
                                         tokenize=False, add_generation_prompt=True) for q in queries[i:i + chunk]]
        texts.sort(key=lambda t: -len(t))
        enc = tok(texts, return_tensors="pt", padding=True, add_special_tokens=False)
        torch.manual_seed(recipe.seed * 100_003 + i // chunk)
        with torch.inference_mode():
            out = model.generate(**enc, max_new_tokens=cfg.max_new_tokens, do_sample=True, temperature=cfg.temperature,
                                 top_p=cfg.top_p, num_return_sequences=cfg.n, pad_token_id=tok.pad_token_id)
        for ids in out[:, enc["input_ids"].shape[1]:].tolist():
            tokens += next((j + 1 for j, t in enumerate(ids) if t in eos), len(ids))
    return tokens


def run(quick: bool) -> dict[str, Any]:
    import os

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch

    from bolt_eval.training import bootstrap, queries
    from bolt_eval.training.recipe_file import load_recipe
    from cases._training_setup import small_llama

    torch.set_num_threads(1)
    n_queries, n, max_new, chunk, repeats = (4, 2, 8, 2, 1) if quick else (8, 4, 32, 4, 3)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        model_dir = small_llama(tmp / "model")
        recipe = load_recipe(write_recipe(tmp, model_dir, n_queries, n, max_new, chunk))
        queries.run(recipe, progress=False)

        def bolt_eval() -> int:
            shutil.rmtree(recipe.out / "bootstrap", ignore_errors=True)
            bootstrap.run(recipe, progress=False)
            return json.loads((recipe.out / "bootstrap" / "manifest.json").read_text())["counts"]["completion_tokens"]

        bare(recipe, model_dir)  # warm-up: first-call allocations, imports
        walls: dict[str, list[float]] = {"bolt-eval": [], "bare generate": []}
        cpus: dict[str, list[float]] = {"bolt-eval": [], "bare generate": []}
        tokens: dict[str, int] = {}
        for r in range(repeats):
            sides = [("bolt-eval", bolt_eval), ("bare generate", lambda: bare(recipe, model_dir))]
            for name, fn in (sides if r % 2 == 0 else sides[::-1]):
                c0, t0 = time.process_time(), time.perf_counter()
                tokens[name] = fn()
                walls[name].append(time.perf_counter() - t0)
                cpus[name].append(time.process_time() - c0)
    ratio = statistics.median(a / b for a, b in zip(walls["bolt-eval"], walls["bare generate"]))
    cpu_ratio = statistics.median(a / b for a, b in zip(cpus["bolt-eval"], cpus["bare generate"]))
    rows = [{"side": name, "tokens": tokens[name], "wall_s": statistics.median(w), "cpu_s": statistics.median(cpus[name]),
             "time_vs_bare": ratio if name == "bolt-eval" else 1.0,
             "cpu_time_vs_bare": cpu_ratio if name == "bolt-eval" else 1.0} for name, w in walls.items()]
    notes = [f"{n_queries} ZebraLogic queries, k=1 exemplar, n={n} samples each, temperature 1, at most {max_new} new "
             f"tokens, chunks of {chunk}; median of {repeats} alternating repeat(s) after a warm-up; one torch thread",
             "both sides load the model from disk; time vs bare above 1 is the stage's overhead (target at most 1.03), "
             "in wall seconds and in CPU seconds of the process (robust to the load of a shared machine); equal "
             "tokens mean the same samples were drawn",
             "vLLM: not measured here (case 2 measures the vllm backend that stage 1 calls against a bare LLM.chat)"]
    return {"rows": rows, "notes": notes}
