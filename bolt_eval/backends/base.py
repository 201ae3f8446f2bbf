"""The one backend interface: requests (conversations + sampling) in, completions out.

`hf`, `openai`, `replay` (and `vllm`) implement it; judges use the same backends. A
backend returns exactly `params.n` completions per request, in request order.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar

from bolt_eval.types import Completion, Message, Request

Progress = Callable[[int], None]  # called with the number of requests just finished


@dataclass(frozen=True)
class ChoiceRequest:
    """Which of `choices` continues the assistant's `reply` to `messages`: the reply is the
    start of the assistant's turn (a judge's own free reply plus the verdict prefix), each
    choice a possible end (judging/constrained.py)."""

    messages: tuple[Message, ...]
    reply: str
    choices: tuple[str, ...]


@dataclass(frozen=True)
class Choice:
    """The chosen continuation, and each choice's log-likelihood when the backend scored them."""

    index: int
    logprobs: tuple[float, ...] | None = None

    @classmethod
    def best(cls, logprobs: tuple[float, ...] | list[float]) -> Choice:
        """The most likely of scored choices (the first of equals)."""
        return cls(max(range(len(logprobs)), key=logprobs.__getitem__), tuple(logprobs))


@dataclass(frozen=True)
class BackendSpec:
    """Everything needed to build a backend; flat so CLI flags map onto it one to one."""

    backend: str
    model: str
    revision: str | None = None
    base_url: str | None = None
    api_key_env: str = "OPENAI_API_KEY"
    api_key_file: str | None = None  # read instead of the variable when given (openai)
    batch_size: int = 16
    concurrency: int = 16
    timeout_s: float = 120.0
    max_retries: int = 6
    device: str | None = None  # hf: "cpu" | "cuda" | None (auto)
    dtype: str | None = None  # hf: "float32" | "bfloat16" | "float16" | None (auto)
    trust_remote_code: bool = False
    context_policy: str = "fail"  # a prompt longer than the context: "fail" | "truncate" (backends/context.py)
    options: dict[str, Any] = field(default_factory=dict)  # engine pass-through

    @property
    def chunk_size(self) -> int:
        """Requests worth handing over at once: `concurrency` for an API, `batch_size` for a
        local engine. Work is saved (and a budget checked) between chunks."""
        return max(1, self.concurrency if self.backend in ("openai", "vllm-serve") else self.batch_size)


class Backend(ABC):
    name: ClassVar[str]
    #: Can pick one of several continuations (`choose`) / score them (`score_choices`):
    #: the local engines; API backends cannot, and judges on them keep free verdicts only.
    can_choose: ClassVar[bool] = False
    can_score: ClassVar[bool] = False
    #: Scores a request's `followup` right after generating its reply (hf).
    can_follow_up: ClassVar[bool] = False

    def __init__(self, spec: BackendSpec) -> None:
        self.spec = spec

    @abstractmethod
    def generate(
        self, requests: list[Request], progress: Progress | None = None
    ) -> list[list[Completion]]:
        """Complete every request; one list of `n` completions per request."""

    def stream(self, requests: list[Request], on_result: Callable[[int, list[Completion]], None],
               stop: Callable[[], bool]) -> None:
        """Complete `requests`, handing each one's completions to `on_result(index,
        completions)` as soon as they are ready, and starting no new work once `stop()` is
        true. A local engine works a chunk (`chunk_size`) at a time; the `openai` backend
        keeps `concurrency` requests in flight across the whole list."""
        size = self.spec.chunk_size
        for start in range(0, len(requests), size):
            if stop():
                return
            for i, completions in enumerate(self.generate(requests[start:start + size]), start):
                on_result(i, completions)

    def score_choices(self, requests: list[ChoiceRequest]) -> list[list[float]]:
        """Per request, each choice's log-likelihood (the sum over its tokens) as the
        continuation of the reply, as lm-eval scores multiple choice."""
        raise NotImplementedError(f"the {self.name} backend cannot score continuations")

    def choose(self, requests: list[ChoiceRequest]) -> list[Choice]:
        """Per request, the continuation the model prefers: by default the argmax of
        `score_choices` (vLLM engines choose by structured outputs instead)."""
        return [Choice.best(scores) for scores in self.score_choices(requests)]

    @classmethod
    @abstractmethod
    def identity(cls, spec: BackendSpec) -> dict[str, Any]:
        """What model exactly (path + weight hash, hub id + revision, or API model name),
        computed without loading anything: it goes into run ids and judgment keys, so a
        finished run is found, and a dry run estimates, before any model is loaded."""

    @classmethod
    def preflight(cls, spec: BackendSpec) -> None:
        """Fail early (UserError) when the backend cannot work, e.g. a missing API key,
        before hours of other work that would end in the same error."""

    def describe(self) -> dict[str, Any]:
        """Provenance once loaded (resolved dtype, chat-template hash...). Never secrets."""
        return self.identity(self.spec)

    def close(self) -> None:
        """Release models, sessions, processes. Safe to call twice."""

    def __enter__(self) -> Backend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# engine options that spread or size the work without changing what the model answers
PLACEMENT_OPTIONS = frozenset({"tensor_parallel_size", "pipeline_parallel_size", "data_parallel_size",
                               "distributed_executor_backend", "gpu_memory_utilization", "max_num_seqs",
                               "max_num_batched_tokens", "swap_space", "serve_timeout_s"})


def local_identity(backend: str, spec: BackendSpec) -> dict[str, Any]:
    """The identity of a model bolt-eval loads itself (hf, vllm, vllm-serve): its source
    (folder + weight fingerprint, or hub id + revision), the requested dtype, and the engine
    options that change its answers (quantization, max_model_len, ...; not `PLACEMENT_OPTIONS`),
    so a run with other ones is a new run, never a resume of the old one's answers."""
    from bolt_eval import models

    source = models.resolve(spec.model, spec.revision)
    identity = {"backend": backend, "model": models.describe_source(source), "dtype": spec.dtype or "auto"}
    answering = {k: v for k, v in sorted(spec.options.items()) if k not in PLACEMENT_OPTIONS}
    return {**identity, "engine_options": answering} if answering else identity


def build_backend(spec: BackendSpec) -> Backend:
    from bolt_eval.registry import backends

    cls = backends.get(spec.backend)
    return cls(spec)


def truncate_at_stop(text: str, stop: tuple[str, ...]) -> tuple[str, bool]:
    """Cut `text` at the first stop sequence; report whether one was found."""
    cut = min((i for s in stop if (i := text.find(s)) >= 0), default=-1)
    return (text[:cut], True) if cut >= 0 else (text, False)


class LazyBackend:
    """A backend built on first use: a re-run with nothing to generate or judge loads no
    model and opens no connection."""

    def __init__(self, spec: BackendSpec) -> None:
        self.spec = spec
        self._backend: Backend | None = None

    @property
    def built(self) -> bool:
        return self._backend is not None

    def get(self) -> Backend:
        if self._backend is None:
            self._backend = build_backend(self.spec)
        return self._backend

    def close(self) -> None:
        if self._backend is not None:
            self._backend.close()
            self._backend = None
