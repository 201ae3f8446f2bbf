"""`vllm-serve` backend: bolt-eval starts `vllm serve MODEL` and talks to it as `openai` does.

For judges and candidates that should run in a server of their own (a local 70B judge,
a model shared by several tasks, an engine setting only the server has). The server starts
when the backend is first used, so a finished re-run starts nothing, and stops when the
backend is closed. Engine options become `vllm serve` flags. As a judge it gives
constrained verdicts through the server's structured outputs (`OpenAIBackend.choose_served`).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any, Callable

from bolt_eval import models
from bolt_eval.backends.base import Backend, Choice, ChoiceRequest, Progress, local_identity
from bolt_eval.backends.openai_api import OpenAIBackend
from bolt_eval.backends.vllm import require_vllm
from bolt_eval.registry import backends
from bolt_eval.serving import ManagedServer
from bolt_eval.types import Completion, Request

SERVE_TIMEOUT_OPTION = "serve_timeout_s"  # read by bolt-eval, not passed to the server


@backends.register("vllm-serve")
class VLLMServeBackend(Backend):
    can_choose = True

    def __init__(self, spec: Any) -> None:
        super().__init__(spec)
        source = models.resolve(spec.model, spec.revision)
        options = dict(spec.options)
        timeout = float(options.pop(SERVE_TIMEOUT_OPTION, 600.0))
        if spec.dtype:
            options["dtype"] = spec.dtype
        if source.revision:
            options["revision"] = source.revision
        if spec.trust_remote_code:
            options["trust_remote_code"] = True
        name = Path(source.location).name if source.kind == "local" else source.location
        self.server = ManagedServer(source.location, name, options, timeout)
        base_url = self.server.start()
        try:
            self.client = OpenAIBackend(replace(spec, backend="openai", model=name, base_url=base_url, options={}),
                                        api_key=self.server.api_key)
        except BaseException:
            self.server.stop()
            raise

    @classmethod
    def preflight(cls, spec: Any) -> None:
        require_vllm()

    @classmethod
    def identity(cls, spec: Any) -> dict[str, Any]:
        return local_identity("vllm-serve", spec)

    def describe(self) -> dict[str, Any]:
        options = {k: v for k, v in sorted(self.spec.options.items()) if k != SERVE_TIMEOUT_OPTION}
        return {**self.identity(self.spec), "engine_options": options}

    def generate(self, requests: list[Request], progress: Progress | None = None) -> list[list[Completion]]:
        return self.client.generate(requests, progress)

    def stream(self, requests: list[Request], on_result: Callable[[int, list[Completion]], None],
               stop: Callable[[], bool]) -> None:
        self.client.stream(requests, on_result, stop)

    def choose(self, requests: list[ChoiceRequest]) -> list[Choice]:
        return self.client.choose_served(requests)

    def close(self) -> None:
        client = self.__dict__.pop("client", None)
        if client is not None:
            client.close()
        self.server.stop()
