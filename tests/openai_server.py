"""A real OpenAI-compatible HTTP server on loopback, for tests.

It answers POST /v1/chat/completions with whatever its `reply` function returns for the
request body, and can inject faults: scripted per call (`faults`, consumed in order), or
decided per request by a `plan` (see fault_plan.py): status codes, Retry-After, delays,
connection resets, any body. It records every request, and the highest number of
requests it had in flight at once.
"""

from __future__ import annotations

import json
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable


@dataclass
class Fault:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: str = '{"error": {"message": "injected fault"}}'
    delay_s: float = 0.0  # sleep before answering (a timeout when above the client's limit)
    reset: bool = False  # drop the connection with a TCP reset instead of answering


Reply = Callable[[dict[str, Any]], str]
Plan = Callable[[dict[str, Any]], "Fault | None"]


class _Server(ThreadingHTTPServer):
    request_queue_size = 256  # the default 5 resets connections under 32+ concurrent clients

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that gave up (a timeout) leaves a broken pipe: expected, not news


class Serving:
    """A loopback HTTP server on a free port, served from a daemon thread while in `with`."""

    def _bind(self) -> None:
        self.httpd = _Server(("127.0.0.1", 0), self._handler())
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        raise NotImplementedError

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def __enter__(self) -> Any:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class LoopbackServer(Serving):
    def __init__(self, reply: Reply, latency_s: float = 0.0) -> None:
        self.reply = reply
        self.latency_s = latency_s
        self.faults: list[Fault] = []  # consumed one per request, first in first out
        self.plan: Plan | None = None  # asked when `faults` is empty
        self.requests: list[dict[str, Any]] = []
        self.arrivals: list[float] = []  # time.monotonic() of each request
        self.auth_headers: list[str] = []
        self.headers: list[dict[str, str]] = []  # every request's headers, names lower-cased
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        self._bind()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with server._lock:
                    server.requests.append(body)
                    server.arrivals.append(time.monotonic())
                    server.auth_headers.append(self.headers.get("Authorization", ""))
                    server.headers.append({k.lower(): v for k, v in self.headers.items()})
                    fault = server.faults.pop(0) if server.faults else server.plan(body) if server.plan else None
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                try:
                    time.sleep(server.latency_s + (fault.delay_s if fault else 0.0))
                    text = None if fault else json.dumps(completion_body(body, server.reply(body)))
                finally:  # done before the answer leaves: once it has, the client may send the next
                    with server._lock:
                        server.in_flight -= 1
                if fault and fault.reset:
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    self.connection.close()
                    self.close_connection = True
                elif fault:
                    self._send(fault.status, fault.body, fault.headers)
                else:
                    self._send(200, text)

            def _send(self, status: int, text: str, headers: dict[str, str] | None = None) -> None:
                data = text.encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

        return Handler


def completion_body(body: dict[str, Any], text: str, finish_reason: str = "stop") -> dict[str, Any]:
    """The chat.completion object answering request `body` with `text`; tokens are words."""
    prompt_tokens = sum(len(m["content"].split()) for m in body["messages"])
    return {
        "id": "chatcmpl-test", "object": "chat.completion", "created": 0, "model": body["model"],
        "choices": [{"index": 0, "finish_reason": finish_reason,
                     "message": {"role": "assistant", "content": text}}],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": len(text.split()),
                  "total_tokens": prompt_tokens + len(text.split())},
    }
