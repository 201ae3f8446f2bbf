"""The tests' loopback OpenAI-compatible server (tests/openai_server.py) in its own process,
so that serving does not share the measured client's GIL or CPU time. `requests()` asks it
how many calls it has answered (a warm re-run must make none)."""

from __future__ import annotations

import multiprocessing as mp
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests"))


@dataclass
class Remote:
    base_url: str
    conn: Connection

    def requests(self) -> int:
        self.conn.send("count")
        return self.conn.recv()


def _serve(reply: Callable[[dict[str, Any]], str], latency_s: float, conn: Connection) -> None:
    from openai_server import LoopbackServer

    with LoopbackServer(reply, latency_s=latency_s) as server:
        conn.send(server.base_url)
        while conn.recv() == "count":
            conn.send(len(server.requests))


@contextmanager
def loopback(reply: Callable[[dict[str, Any]], str], latency_s: float) -> Iterator[Remote]:
    """A running server answering `reply(body)` after `latency_s`; stopped on exit.
    `reply` must be a module-level function (it is sent to a spawned process)."""
    ours, theirs = mp.Pipe()
    proc = mp.get_context("spawn").Process(target=_serve, args=(reply, latency_s, theirs), daemon=True)
    proc.start()
    try:
        yield Remote(ours.recv(), ours)
    finally:
        ours.send("stop")
        proc.join(10)
