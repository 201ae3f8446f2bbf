"""`openai` backend: any OpenAI-compatible chat endpoint (OpenAI's, `vllm serve`, ...),
over aiohttp (chat_http.py says why not through the SDK's client).

Async with a bound on requests in flight. A request is retried up to `max_retries` times
on 429, 5xx, timeouts, dropped connections and malformed bodies, with exponential backoff
and jitter. A 429 pauses *every* request of the backend, not just the one that got it,
until the server's Retry-After (or the backoff) has passed: the endpoint sees the whole
client back off. A request that still fails comes back as a failed Completion, never as an
empty answer; when every request of a call fails the same way that no retry can mend (an
unreachable endpoint, an unknown model, a refused key), the run stops with what to fix.
The API key is read from the file (--api-key-file) or else the environment variable
(--api-key-env) the user names, never from a flag's value (argv is recorded in manifests),
and is cut out of every error message: servers echo keys back.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from pathlib import Path
from typing import Any, Awaitable, Callable

from bolt_eval.backends.base import Backend, Choice, ChoiceRequest, Progress, truncate_at_stop
from bolt_eval.backends.chat_http import APIError, ChatHTTP, RateLimitError, endpoint
from bolt_eval.registry import backends
from bolt_eval.types import Completion, Request, UserError


def _user_key(spec: Any) -> str:
    if spec.api_key_file:
        path = Path(spec.api_key_file).expanduser()
        try:
            key = path.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as err:
            raise UserError(f"API key file {path}: cannot read it ({getattr(err, 'strerror', None) or err}); "
                            "name a file that holds the key") from err
        if not key:
            raise UserError(f"API key file {path} is empty: put the key in it")
        return key
    key = os.environ.get(spec.api_key_env)
    if key:
        return key
    if spec.base_url is None:
        raise UserError(
            f"the openai backend needs an API key: set the environment variable "
            f"{spec.api_key_env} (or name another with --api-key-env, or a file with --api-key-file)"
        )
    return "EMPTY"  # local OpenAI-compatible servers (vllm serve) accept any key


@backends.register("openai")
class OpenAIBackend(Backend):
    def __init__(self, spec: Any, api_key: str | None = None) -> None:
        """`api_key` is for callers that hold a key of their own (a managed server's);
        users' keys come from the file or environment variable they name."""
        super().__init__(spec)
        self._key = api_key or _user_key(spec)
        # One event loop and one client (one connection pool) for the backend's lifetime:
        # callers hand over work in chunks, and a client per chunk cost ~25 ms plus new
        # connections each time.
        self._runner = asyncio.Runner()
        self._client: Any = None
        self._resume_at = 0.0  # monotonic time before which no request is sent (after a 429)

    def close(self) -> None:
        if self._client is not None:
            self._runner.run(self._client.close())
            self._client = None
        self._runner.close()

    @classmethod
    def preflight(cls, spec: Any) -> None:
        _user_key(spec)

    @classmethod
    def identity(cls, spec: Any) -> dict[str, Any]:
        return {
            "backend": "openai",
            "model": {"kind": "api", "name": spec.model},
            "base_url": spec.base_url or endpoint(None),
        }

    def generate(self, requests: list[Request], progress: Progress | None = None) -> list[list[Completion]]:
        results: list[list[Completion]] = [[] for _ in requests]

        def keep(i: int, completions: list[Completion]) -> None:
            results[i] = completions
            if progress:
                progress(1)

        self.stream(requests, keep, lambda: False)
        return results

    def stream(self, requests: list[Request], on_result: Callable[[int, list[Completion]], None],
               stop: Callable[[], bool]) -> None:
        seen: list[Completion] = []

        def record(i: int, completions: list[Completion]) -> None:
            seen.extend(completions)
            on_result(i, completions)

        self._runner.run(self._run_all(requests, record, stop))
        failures = [c.error or "" for c in seen if c.finish_reason == "error"]
        kind = failures[0].partition(":")[0] if failures else ""
        if kind in FATAL and len(failures) == len(seen) and all(f.startswith(kind) for f in failures):
            raise UserError(FATAL[kind].format(url=endpoint(self.spec.base_url),
                                               model=self.spec.model, first=failures[0]))

    def _async_client(self) -> ChatHTTP:
        """The backend's one client (one connection pool), made on first use inside its event loop."""
        if self._client is None:
            self._client = ChatHTTP(self._key, self.spec.base_url, self.spec.timeout_s)
        return self._client

    def _redact(self, text: str) -> str:
        return text.replace(self._key, "[API key]") if len(self._key) >= 8 else text

    async def _run_all(self, requests: list[Request], on_result: Callable[[int, list[Completion]], None],
                       stop: Callable[[], bool]) -> None:
        """`concurrency` workers, each taking the next sample to ask for once it has handed
        over its last one, so a result that spends the budget is counted before the next
        request asks `stop()`; a request with n samples is handed over when all n are in (one
        cut short by `stop()` stays unanswered). A worker goes straight on to its next call,
        where a task per request waiting on a semaphore took a turn of the event loop
        between two calls of a slot."""
        client = self._async_client()
        jobs = [(i, k) for i, r in enumerate(requests) for k in range(r.params.n)]
        pending = iter(jobs)
        samples: dict[int, list[Completion | None]] = {}

        async def worker() -> None:
            for i, k in pending:
                if stop():
                    return
                request = requests[i]
                completion = await self._ask(client, request, k)
                if request.params.n == 1:
                    on_result(i, [completion])
                    continue
                got = samples.setdefault(i, [None] * request.params.n)
                got[k] = completion
                if all(c is not None for c in got):
                    on_result(i, [c for c in got if c is not None])

        await asyncio.gather(*(worker() for _ in range(min(self.spec.concurrency, len(jobs)))))

    async def _ask(self, client: Any, request: Request, k: int) -> Completion:
        p = request.params
        t0 = time.perf_counter()
        try:
            reply = await self._create_with_retries(lambda: _post_chat(client, chat_body(self.spec, request, k)))
        except RequestFailed as err:
            return Completion.failed(self._redact(str(err)), time.perf_counter() - t0)
        latency = time.perf_counter() - t0
        if reply is None:
            return Completion.failed("empty response: no choices", latency)
        content, finish, prompt_tokens, completion_tokens = reply
        text, stopped = truncate_at_stop(content, p.stop)
        return Completion(text=text, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens,
                          finish_reason="stop" if stopped else (finish or "stop"), latency_s=latency)

    def choose_served(self, requests: list[ChoiceRequest]) -> list[Choice]:
        """Constrained choices from a vLLM server (the `vllm-serve` judge): the reply is sent
        as the assistant's unfinished turn (`continue_final_message`), and the server's
        structured outputs restrict the continuation to the choices; greedy. Only vLLM's
        server reads these body fields, so the plain `openai` backend never sends them."""
        async def ask_all() -> list[Choice]:
            client = self._async_client()
            gate = asyncio.Semaphore(self.spec.concurrency)

            async def one(r: ChoiceRequest) -> Choice:
                async with gate:
                    body = {"model": self.spec.model, "temperature": 0.0, "max_tokens": 32,
                            "messages": [*r.messages, {"role": "assistant", "content": r.reply}],
                            "structured_outputs": {"choice": list(r.choices)},
                            "continue_final_message": True, "add_generation_prompt": False}
                    reply = await self._create_with_retries(lambda: _post_chat(client, body))
                text = reply[0] if reply else ""
                if text not in r.choices:
                    raise UserError(f"the vLLM server at {self.spec.base_url} answered {text!r} to a guided choice "
                                    f"among {list(r.choices)}: it does not apply structured outputs (needs vLLM >= 0.12)")
                return Choice(r.choices.index(text))

            return list(await asyncio.gather(*(one(r) for r in requests)))

        try:
            return self._runner.run(ask_all())
        except RequestFailed as err:
            raise UserError(f"a constrained verdict from the vLLM server failed: {self._redact(str(err))}") from err

    async def _create_with_retries(self, create: Callable[[], Awaitable[Any]]) -> Any:
        """`create()` (one request to the endpoint) until it succeeds or fails for good."""
        for attempt in range(self.spec.max_retries + 1):
            await asyncio.sleep(max(0.0, self._resume_at - time.monotonic()))
            try:
                return await create()
            except RateLimitError as err:
                delay = _retry_after(err.headers) or _backoff(attempt)
                self._resume_at = max(self._resume_at, time.monotonic() + delay)
                last: Exception = err
                continue
            except APIError as err:
                if not err.retryable:
                    raise RequestFailed(f"{type(err).__name__}: {err}") from err
                last = err
            except ValueError as err:  # a malformed body
                last = err
            if attempt < self.spec.max_retries:
                await asyncio.sleep(_backoff(attempt))
        raise RequestFailed(f"{type(last).__name__}: {last} (after {self.spec.max_retries + 1} attempts)")


async def _post_chat(client: ChatHTTP, body: dict[str, Any]) -> tuple[str, str | None, int, int] | None:
    """POST a ready chat.completions body and read the reply's JSON: (text, finish reason,
    prompt tokens, completion tokens), or None for a reply without choices. A reply of
    another shape is a malformed one (ValueError, retried)."""
    data = await client.post(body)
    try:
        choices = data["choices"]
        if not choices:
            return None
        usage = data.get("usage") or {}
        message = choices[0]["message"]
        return (message.get("content") or "", choices[0].get("finish_reason"),
                usage.get("prompt_tokens") or 0, usage.get("completion_tokens") or 0)
    except (KeyError, IndexError, TypeError, AttributeError) as err:
        raise ValueError(f"a reply that is not a chat completion ({type(err).__name__}: {err}): "
                         f"{str(data)[:200]}") from err


def chat_body(spec: Any, request: Request, k: int = 0) -> dict[str, Any]:
    """The chat.completions body of the `k`-th sample of `request`: what a live call sends
    and what a Batch API input line carries (judging/batch.py), so both ask the same."""
    p = request.params
    return dict(model=spec.model, messages=list(request.messages), temperature=p.temperature, top_p=p.top_p,
                max_tokens=p.max_new_tokens, seed=p.seed + k, stop=list(p.stop) or None, **spec.options)


class RequestFailed(Exception):
    """A request that failed for good (retries spent, or an error retrying cannot fix)."""


FATAL = {  # every request of a call failed so: no retry, nor a later run, can mend it
    "APIConnectionError": "the endpoint {url} is unreachable ({first}). Start the server or fix --base-url",
    "NotFoundError": "the endpoint {url} does not serve the model {model!r} ({first}). Check the model name "
                     "(--model, --judge-model) and the endpoint",
    "AuthenticationError": "the endpoint {url} refused the API key ({first}). Check the key in the variable "
                           "(--api-key-env) or file (--api-key-file) you named",
}


def _backoff(attempt: int) -> float:
    """0.5 s, 1 s, 2 s, ... capped at 30 s, with jitter so clients do not retry in step."""
    return min(30.0, 0.5 * 2 ** attempt) * random.uniform(0.5, 1.0)


def _retry_after(headers: Any) -> float | None:
    """The server's wish, from `retry-after-ms` or `retry-after` (seconds), capped at 60 s."""
    for name, scale in (("retry-after-ms", 1e-3), ("retry-after", 1.0)):
        try:
            return min(60.0, float(headers[name]) * scale)
        except (KeyError, TypeError, ValueError):
            continue
    return None
