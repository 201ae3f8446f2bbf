"""A bolt-eval backend spec as lm-eval's model name and model_args.

hf -> lm-eval `hf` (the resolved local folder of --model, `default` included: the embedded
model converted once, bolt_eval/models.py); vllm -> `vllm`; openai -> `local-chat-completions`
(lm-eval's OpenAI-compatible chat client, which reads its key from OPENAI_API_KEY: the key is
put there only for the call, never into model_args, which lm-eval writes into its results).
The long-CoT delimiters of --thoughts become lm-eval's `think_end_token`, so a reasoning
model is scored on what follows its thoughts, as bolt-eval's own tasks are.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Any, Iterator

from bolt_eval.backends.base import BackendSpec
from bolt_eval.types import UserError

SUPPORTED = ("hf", "vllm", "openai")


def lm_eval_model(spec: BackendSpec, thoughts: str = "none") -> tuple[str, dict[str, Any]]:
    """(lm-eval model name, model_args) for a backend spec; no secrets in either."""
    from bolt_eval.thoughts import get_delimiters

    delims = get_delimiters(thoughts)
    think = {"think_end_token": delims.thought_close} if delims else {}
    if spec.backend in ("hf", "vllm"):
        return spec.backend, {**_local_args(spec), **think}
    if spec.backend == "openai":
        if not spec.base_url:
            raise UserError("lm-eval tasks on --backend openai need --base-url (an OpenAI-compatible endpoint, "
                            "e.g. http://localhost:8000/v1): lm-eval's local-chat-completions client has no default")
        url = spec.base_url.rstrip("/")
        if not url.endswith("/chat/completions"):
            url += "/chat/completions"
        return "local-chat-completions", {"model": spec.model, "base_url": url, "num_concurrent": spec.concurrency,
                                          "max_retries": spec.max_retries, "timeout": int(spec.timeout_s),
                                          "tokenized_requests": False, **think}
    raise UserError(f"lm-eval tasks run on the backends {', '.join(SUPPORTED)}, not {spec.backend}: "
                    "use --backend hf or vllm for a local model, or openai against a `vllm serve` endpoint")


def _local_args(spec: BackendSpec) -> dict[str, Any]:
    """pretrained= the folder bolt-eval itself would load (a .gguf: its folder + gguf_file)."""
    import torch

    from bolt_eval import models

    source = models.resolve(spec.model, spec.revision)
    args: dict[str, Any] = {"pretrained": source.load_from, "trust_remote_code": spec.trust_remote_code}
    if source.revision:
        args["revision"] = source.revision
    if source.gguf_file:
        args["gguf_file"] = source.gguf_file
    if spec.backend == "hf":
        device = spec.device or ("cuda" if torch.cuda.is_available() else "cpu")
        args.update(device=device, batch_size=spec.batch_size,
                    dtype=spec.dtype or ("bfloat16" if device.startswith("cuda") else "float32"))
    else:  # vllm: its engine options pass through (tensor_parallel_size, gpu_memory_utilization, ...)
        args.update(dtype=spec.dtype or "auto", batch_size="auto", **spec.options)
    return args


@contextmanager
def api_key(spec: BackendSpec) -> Iterator[None]:
    """For the openai backend: OPENAI_API_KEY set, for the duration of the call only, to the
    key of --api-key-env / --api-key-file (lm-eval reads it from there)."""
    if spec.backend != "openai":
        yield
        return
    from pathlib import Path

    if spec.api_key_file:
        key = Path(spec.api_key_file).expanduser().read_text(encoding="utf-8").strip()
    else:
        key = os.environ.get(spec.api_key_env, "")
    old = os.environ.get("OPENAI_API_KEY")
    os.environ["OPENAI_API_KEY"] = key
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("OPENAI_API_KEY", None)
        else:
            os.environ["OPENAI_API_KEY"] = old
