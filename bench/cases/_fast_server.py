"""A loopback OpenAI-compatible server fast enough not to limit the judging bench.

The tests' server (tests/openai_server.py) is a `ThreadingHTTPServer`: a thread per
connection, and at 64-128 connections its own CPU (on the same two cores as the client)
capped what both measured sides could reach. This one is `workers` processes of stdlib
asyncio, accepting on one shared listening socket: HTTP/1.1 keep-alive, POST
/v1/chat/completions answered with `reply(body)` after `latency_s` (an `asyncio.sleep`, so
a connection waiting costs no thread). Requests are counted in shared memory, one slot per
worker (no lock), so a warm re-run can prove it made none.

`ceiling(base_url, concurrency, calls)` measures what the server itself sustains: a
minimal client (raw asyncio streams, one keep-alive connection per concurrent caller, a
prebuilt request) drives it; the case reports it beside the clients under test.
Standard library only: bench cases import it at module level.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing as mp
import socket
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests"))

Reply = Callable[[dict[str, Any]], str]
PATH = b"/v1/chat/completions"


@dataclass
class Remote:
    base_url: str
    counts: Any  # multiprocessing Array: requests answered, one slot per worker

    def requests(self) -> int:
        return sum(self.counts)


def _head(status: str, length: int) -> bytes:
    return (f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {length}\r\n"
            "\r\n").encode()


async def _connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, reply: Reply,
                      latency_s: float, counts: Any, slot: int) -> None:
    """Answer the requests of one keep-alive connection, one after another."""
    from openai_server import completion_body

    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            request_line, *lines = head.decode("latin-1").split("\r\n")
            headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in lines if h)}
            body = await reader.readexactly(int(headers.get("content-length", 0)))
            if request_line.split(" ")[1].encode() != PATH:
                writer.write(_head("404 Not Found", 0))
                continue
            counts[slot] += 1
            await asyncio.sleep(latency_s)
            request = json.loads(body)
            data = json.dumps(completion_body(request, reply(request))).encode()
            writer.write(_head("200 OK", len(data)) + data)
            if headers.get("connection", "").lower() == "close":
                break
    except (asyncio.IncompleteReadError, ConnectionError):
        pass  # the client closed the connection
    finally:
        writer.close()


def _worker(sock: socket.socket, reply: Reply, latency_s: float, counts: Any, slot: int) -> None:
    async def main() -> None:
        server = await asyncio.start_server(
            lambda r, w: _connection(r, w, reply, latency_s, counts, slot), sock=sock, backlog=1024)
        await server.serve_forever()

    asyncio.run(main())


@contextmanager
def serve(reply: Reply, latency_s: float, workers: int = 2) -> Iterator[Remote]:
    """A running server answering `reply(body)` after `latency_s`; stopped on exit.
    `reply` must be a module-level function (it is sent to spawned processes)."""
    ctx = mp.get_context("spawn")
    sock = socket.create_server(("127.0.0.1", 0), backlog=1024)
    counts = ctx.Array("q", workers, lock=False)
    procs = [ctx.Process(target=_worker, args=(sock, reply, latency_s, counts, k), daemon=True)
             for k in range(workers)]
    for p in procs:
        p.start()
    try:
        base_url = f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
        _wait_ready(base_url, procs)
        yield Remote(base_url, counts)
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.join(10)
        sock.close()


def _wait_ready(base_url: str, procs: list[Any], timeout_s: float = 60.0) -> None:
    """Block until a request is answered (the workers import and start); a worker that
    died, or no answer within `timeout_s`, is an error."""
    async def probe() -> None:
        await asyncio.wait_for(_drive(base_url, 1, 1), timeout_s)

    asyncio.run(probe())
    dead = [p.exitcode for p in procs if not p.is_alive()]
    if dead:
        raise RuntimeError(f"loopback server: {len(dead)} worker(s) exited (codes {dead}); their output is above")


def _request(base_url: str) -> bytes:
    body = json.dumps({"model": "ceiling", "messages": [{"role": "user", "content": "Grade this answer."}]}).encode()
    host = base_url.split("//")[1].split("/")[0]
    return (f"POST {PATH.decode()} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode() + body


async def _drive(base_url: str, concurrency: int, calls: int) -> None:
    """`calls` requests over `concurrency` keep-alive connections, each reply read whole."""
    host, port = base_url.split("//")[1].split("/")[0].split(":")
    request, left = _request(base_url), [calls]

    async def caller() -> None:
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            while left[0] > 0:
                left[0] -= 1
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
                await reader.readexactly(length)
        finally:
            writer.close()

    await asyncio.gather(*(caller() for _ in range(min(concurrency, calls))))


def ceiling(base_url: str, concurrency: int, calls: int) -> float:
    """Calls/s the server sustains for a minimal client at this concurrency."""
    t0 = time.perf_counter()
    asyncio.run(_drive(base_url, concurrency, calls))
    return calls / (time.perf_counter() - t0)
