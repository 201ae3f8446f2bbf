"""The vLLM pieces that need no vLLM: the message when it is missing, engine options from the
command line, `vllm serve` flags, per-request seeds. The engine itself is tested in
tests/on_vllm (nox -s vllm)."""

from __future__ import annotations

import importlib.util

import pytest
from conftest import MATH_FIXTURE, bolt

from bolt_eval.backends.base import BackendSpec, build_backend
from bolt_eval.backends.vllm import request_seed
from bolt_eval.cli import build_parser
from bolt_eval.run_config import engine_options
from bolt_eval.serving import server_flags
from bolt_eval.types import Request, SamplingParams, UserError

pytestmark = pytest.mark.skipif(importlib.util.find_spec("vllm") is not None, reason="vllm is installed here")


@pytest.mark.parametrize("backend", ["vllm", "vllm-serve"])
def test_missing_vllm_names_the_extra_and_the_nox_session(backend: str, tmp_path) -> None:
    with pytest.raises(UserError, match=r"pip install 'bolt-eval\[vllm\]'.*nox -s vllm"):
        build_backend(BackendSpec(backend, "default"))
    out = bolt("run", "--model", "default", "--backend", backend, "--tasks", "math500", "--data", str(MATH_FIXTURE),
               "--limit", "1", "--out", str(tmp_path / "r"))
    assert out.returncode == 2
    assert "bolt-eval: error: the vllm backend needs vLLM: `pip install 'bolt-eval[vllm]'`" in out.stderr
    assert not list((tmp_path / "r").glob("*/manifest.json"))  # refused before any run folder exists


def options(*argv: str) -> dict:
    args = build_parser().parse_args(["run", "--model", "m", "--tasks", "math500", *argv])
    return engine_options(args, args.backend, args.engine_option)


def test_engine_options_are_typed_yaml_scalars() -> None:
    got = options("--backend", "vllm", "--engine-option", "tensor_parallel_size=2", "--engine-option",
                  "gpu_memory_utilization=0.85", "--engine-option", "enforce_eager=true",
                  "--engine-option", "distributed_executor_backend=ray")
    assert got == {"tensor_parallel_size": 2, "gpu_memory_utilization": 0.85, "enforce_eager": True,
                   "distributed_executor_backend": "ray"}
    assert options("--backend", "vllm-serve", "--serve-timeout", "90") == {"serve_timeout_s": 90.0}


@pytest.mark.parametrize("argv, message", [
    (["--backend", "vllm", "--engine-option", "tensor_parallel_size"], "--engine-option tensor_parallel_size: write KEY=VALUE"),
    (["--backend", "vllm", "--engine-option", "bad-key=1"], "--engine-option bad-key=1: write KEY=VALUE"),
    (["--engine-option", "enforce_eager=true"], "engine options apply to the vllm and vllm-serve backends, not hf"),
])
def test_bad_engine_options_are_refused(argv: list[str], message: str) -> None:
    with pytest.raises(UserError, match=message):
        options(*argv)


def test_engine_options_become_vllm_serve_flags() -> None:
    assert server_flags({"tensor_parallel_size": 2, "enforce_eager": True, "trust_remote_code": False,
                         "limit_mm_per_prompt": {"image": 0}}) == [
        "--enforce-eager", "--limit-mm-per-prompt", '{"image": 0}', "--tensor-parallel-size", "2"]


def test_request_seeds_differ_by_request_and_repeat_by_request() -> None:
    def req(sample: str, turn: int = 0) -> Request:
        return Request(sample, turn, ({"role": "user", "content": "same prompt"},), SamplingParams())

    seeds = {request_seed(0, req(f"s{i}", t)) for i in range(100) for t in (0, 1)}
    assert len(seeds) == 200
    assert request_seed(0, req("s1")) == request_seed(0, req("s1")) != request_seed(1, req("s1"))
    assert all(0 <= s < 2**31 for s in seeds)


@pytest.mark.parametrize("backend", ["vllm", "vllm-serve"])
def test_engine_options_that_change_answers_are_part_of_the_identity(backend: str) -> None:
    """A run with --engine-option quantization=fp8 is another run than the bf16 one (it was
    resumed on the old answers); spreading the same model over more GPUs is not."""
    from bolt_eval.registry import backends

    ident = backends.get(backend).identity
    plain = ident(BackendSpec(backend, "default"))
    assert "engine_options" not in plain
    assert ident(BackendSpec(backend, "default", options={"tensor_parallel_size": 2, "gpu_memory_utilization": 0.8,
                                                          "serve_timeout_s": 900})) == plain
    fp8 = ident(BackendSpec(backend, "default", options={"quantization": "fp8", "tensor_parallel_size": 2,
                                                         "max_model_len": 8192}))
    assert fp8 == {**plain, "engine_options": {"max_model_len": 8192, "quantization": "fp8"}}
