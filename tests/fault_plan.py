"""A seeded fault plan for the loopback server: each request is answered with a fault at a
given rate, the kinds that apply to it taken in turn, so that a run meets every kind.

Transport faults (any request): 429 with and without Retry-After, 500, 502, 503, a TCP
reset, a reply that hangs past the client's timeout, a truncated JSON body. Content faults
(judge requests only, since a candidate's odd answer is its answer, not a fault): empty
content, `finish_reason: length` with the verdict cut off, a refusal, a verdict in the
wrong format.

Whether a request meets a fault is a hash of the seed, the request body and how often that
body was seen before, not of arrival order or timing, so the rate holds whatever the
client's concurrency and backoff do. `injected` counts the faults per kind.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from typing import Any, Callable

from openai_server import Fault, completion_body

TRANSPORT = ("429_retry_after", "429_no_retry_after", "500", "502", "503", "reset", "hang", "truncated_json")
CONTENT = ("empty_content", "finish_length", "refusal", "wrong_format")
CONTENT_TEXT = {
    "empty_content": ("", "stop"),
    "finish_length": ("Looking at the answer closely, the first thing to note is", "length"),
    "refusal": ("I'm sorry, but I can't evaluate this conversation.", "stop"),
    "wrong_format": ("I would give this answer a seven out of ten.", "stop"),
}


class FaultPlan:
    def __init__(self, reply: Callable[[dict[str, Any]], str], rate: float, seed: int, judges: set[str],
                 hang_s: float) -> None:
        self.reply, self.rate, self.seed, self.judges, self.hang_s = reply, rate, seed, judges, hang_s
        self.seen: Counter[str] = Counter()
        self.injected: Counter[str] = Counter()

    def __call__(self, body: dict[str, Any]) -> Fault | None:
        """Called by the server under its lock, once per request."""
        canonical = json.dumps(body, sort_keys=True)
        self.seen[canonical] += 1
        h = hashlib.sha256(f"{self.seed}|{self.seen[canonical]}|{canonical}".encode()).digest()
        if int.from_bytes(h[:4], "big") / 2**32 >= self.rate:
            return None
        kinds = TRANSPORT + CONTENT if body["model"] in self.judges else TRANSPORT
        kind = kinds[sum(self.injected[k] for k in kinds) % len(kinds)]
        self.injected[kind] += 1
        return self.fault(kind, body)

    def fault(self, kind: str, body: dict[str, Any]) -> Fault:
        if kind in CONTENT_TEXT:
            text, finish = CONTENT_TEXT[kind]
            return Fault(200, body=json.dumps(completion_body(body, text, finish)))
        if kind == "truncated_json":
            whole = json.dumps(completion_body(body, self.reply(body)))
            return Fault(200, body=whole[: len(whole) // 2])
        return {
            "429_retry_after": Fault(429, {"Retry-After": "0.2"}),
            "429_no_retry_after": Fault(429),
            "500": Fault(500), "502": Fault(502), "503": Fault(503),
            "reset": Fault(0, reset=True),
            "hang": Fault(200, delay_s=self.hang_s),
        }[kind]
