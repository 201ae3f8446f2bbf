"""`openai` backend: any OpenAI-compatible chat endpoint through the official client.

Async with a bound on requests in flight. Retries, exponential backoff and Retry-After
(seconds or ms) are the official client's own (`max_retries`); a request that still fails
comes back as a failed Completion, never as an empty answer. The API key is read from the
environment variable the user names, and is never written anywhere.
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

from bolt_eval.backends.base import Backend, Progress, truncate_at_stop
from bolt_eval.registry import backends
from bolt_eval.types import Completion, Request, UserError


def api_key(spec: Any) -> str:
    key = os.environ.get(spec.api_key_env)
    if key:
        return key
    if spec.base_url is None:
        raise UserError(
            f"the openai backend needs an API key: set the environment variable "
            f"{spec.api_key_env} (or name another with --api-key-env)"
        )
    return "EMPTY"  # local OpenAI-compatible servers (vllm serve) accept any key


@backends.register("openai")
class OpenAIBackend(Backend):
    def __init__(self, spec: Any) -> None:
        super().__init__(spec)
        self._key = api_key(spec)

    def describe(self) -> dict[str, Any]:
        return {
            "backend": "openai",
            "model": {"kind": "api", "name": self.spec.model},
            "base_url": self.spec.base_url or "https://api.openai.com/v1",
            "concurrency": self.spec.concurrency,
        }

    def generate(self, requests: list[Request], progress: Progress | None = None) -> list[list[Completion]]:
        results = asyncio.run(self._run_all(requests, progress))
        failures = [c.error or "" for cs in results for c in cs if c.finish_reason == "error"]
        if failures and len(failures) == sum(len(cs) for cs in results) and all(
            f.startswith("APIConnectionError") for f in failures
        ):
            raise UserError(
                f"the endpoint {self.spec.base_url or 'api.openai.com'} is unreachable "
                f"({failures[0]}). Start the server or fix --base-url"
            )
        return results

    async def _run_all(self, requests: list[Request], progress: Progress | None) -> list[list[Completion]]:
        from openai import AsyncOpenAI

        gate = asyncio.Semaphore(self.spec.concurrency)
        async with AsyncOpenAI(
            api_key=self._key, base_url=self.spec.base_url,
            timeout=self.spec.timeout_s, max_retries=self.spec.max_retries,
        ) as client:

            async def one(request: Request) -> list[Completion]:
                outs = await asyncio.gather(*(
                    self._complete(client, gate, request, k) for k in range(request.params.n)
                ))
                if progress:
                    progress(1)
                return list(outs)

            return list(await asyncio.gather(*(one(r) for r in requests)))

    async def _complete(self, client: Any, gate: asyncio.Semaphore, request: Request, k: int) -> Completion:
        import openai

        p = request.params
        async with gate:
            t0 = time.perf_counter()
            try:
                resp = await client.chat.completions.create(
                    model=self.spec.model,
                    messages=list(request.messages),
                    temperature=p.temperature,
                    top_p=p.top_p,
                    max_tokens=p.max_new_tokens,
                    seed=p.seed + k,
                    stop=list(p.stop) or None,
                    **self.spec.options,
                )
            except openai.OpenAIError as err:
                return Completion.failed(f"{type(err).__name__}: {err}", time.perf_counter() - t0)
        latency = time.perf_counter() - t0
        if not resp.choices:
            return Completion.failed("empty response: no choices", latency)
        choice = resp.choices[0]
        text, stopped = truncate_at_stop(choice.message.content or "", p.stop)
        usage = resp.usage
        return Completion(
            text=text,
            prompt_tokens=usage.prompt_tokens if usage else 0,
            completion_tokens=usage.completion_tokens if usage else 0,
            finish_reason="stop" if stopped else (choice.finish_reason or "stop"),
            latency_s=latency,
        )
