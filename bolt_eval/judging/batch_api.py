"""The OpenAI Batch API through the official `openai` client: files up, batches created,
polled and found again, results down, result lines read.

Formats as the Batch API guide gives them (platform.openai.com/docs/guides/batch): an
input line is `{"custom_id", "method": "POST", "url": "/v1/chat/completions", "body"}`;
an output line is `{"id", "custom_id", "response": {"status_code", "body"}, "error"}`,
successful requests in the output file, failed ones (and, on expiry, the ones never run)
in the error file. Limits: 50,000 requests and 200 MB per input file.

The client retries 429s, 5xx and dropped connections itself (`max_retries`); what still
fails stops the run with the endpoint named, and the jobs recorded so far are re-attached
by the next run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Iterator

from bolt_eval.types import Completion, UserError

ENDPOINT = "/v1/chat/completions"
MAX_REQUESTS = 50_000
MAX_BYTES = 200_000_000  # "up to 200 MB in size"; MB taken as 10^6 bytes, the safe reading
FINISHED = ("completed", "expired", "cancelled", "failed")
LOOKBACK_S = 600.0  # files and batches listed back to this long before a job was recorded


def client(spec: Any) -> Any:
    """A synchronous client for the judge's endpoint, with the judge's key, timeout and retries."""
    from openai import OpenAI

    from bolt_eval.backends.openai_api import _user_key

    return OpenAI(api_key=_user_key(spec), base_url=spec.base_url, timeout=spec.timeout_s, max_retries=spec.max_retries)


def input_line(custom_id: str, body: dict[str, Any]) -> bytes:
    return (json.dumps({"custom_id": custom_id, "method": "POST", "url": ENDPOINT, "body": body},
                       ensure_ascii=False) + "\n").encode()


def find_file(api: Any, name: str, since: float) -> str | None:
    """The id of the batch input file called `name` uploaded since `since` (newest first)."""
    for f in _call(api, "list files", lambda: api.files.list(purpose="batch", order="desc")):
        if f.filename == name:
            return str(f.id)
        if f.created_at < since - LOOKBACK_S:
            return None
    return None


def upload(api: Any, name: str, data: bytes) -> str:
    return str(_call(api, "upload the batch input file", lambda: api.files.create(file=(name, data), purpose="batch")).id)


def find_batch(api: Any, input_file_id: str, since: float) -> str | None:
    """The id of a batch made from `input_file_id` since `since` (listed newest first)."""
    for b in _call(api, "list batches", lambda: api.batches.list()):
        if b.input_file_id == input_file_id:
            return str(b.id)
        if b.created_at < since - LOOKBACK_S:
            return None
    return None


def create(api: Any, input_file_id: str, job: str) -> str:
    return str(_call(api, "create a batch", lambda: api.batches.create(
        input_file_id=input_file_id, endpoint=ENDPOINT, completion_window="24h", metadata={"bolt_eval_job": job})).id)


def retrieve(api: Any, batch_id: str) -> Any:
    return _call(api, f"poll batch {batch_id}", lambda: api.batches.retrieve(batch_id))


def download(api: Any, file_id: str | None) -> list[dict[str, Any]]:
    """The lines of a result file (none when the batch has no such file)."""
    if not file_id:
        return []
    text = _call(api, f"download file {file_id}", lambda: api.files.content(file_id).text)
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@dataclass(frozen=True)
class Result:
    custom_id: str
    completion: Completion | None  # None: the request failed (error says why)
    error: str | None


def results(lines: list[dict[str, Any]]) -> Iterator[Result]:
    """Each result line as a Completion (as the live backend builds it) or an error."""
    for line in lines:
        response, error = line.get("response") or {}, line.get("error")
        body = response.get("body") or {}
        if error or response.get("status_code") != 200:
            err = error or body.get("error") or {}
            yield Result(line["custom_id"], None, f"{err.get('code') or response.get('status_code')}: "
                                                  f"{err.get('message', 'no message')}")
            continue
        choices, usage = body.get("choices") or [], body.get("usage") or {}
        if not choices:
            yield Result(line["custom_id"], None, "empty response: no choices")
            continue
        choice = choices[0]
        yield Result(line["custom_id"], Completion(
            text=(choice.get("message") or {}).get("content") or "",
            prompt_tokens=usage.get("prompt_tokens", 0), completion_tokens=usage.get("completion_tokens", 0),
            finish_reason=choice.get("finish_reason") or "stop", latency_s=0.0), None)


def _call(api: Any, what: str, fn: Any) -> Any:
    import openai

    try:
        return fn()
    except openai.OpenAIError as err:
        detail = str(err).replace(api.api_key, "[API key]") if len(api.api_key) >= 8 else str(err)
        raise UserError(f"Batch API at {api.base_url}: could not {what} ({type(err).__name__}: {detail}); the jobs "
                        "recorded so far are kept in the ledger: re-run the same command to re-attach to them") from err
