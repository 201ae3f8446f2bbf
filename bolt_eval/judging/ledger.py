"""The ledger: a content-addressed SQLite store of judgments, shared by every run.

A judgment's key is a hash of what determines the judge's reply: the judge model id, the
template id and hash, the rendered messages and the sampling parameters. The parser is
not in the key: a row remembers which parser version produced its verdict, and a new
parser re-parses the stored raw reply instead of calling the judge. Failures (api_error,
parse_error, refused, truncated) are stored as failures with the reply that caused them,
and are asked again on the next run; only `ok` rows are final.

One file per results root (`<out>/judgments.sqlite`), in WAL mode, so concurrent runs
share it and a killed run loses nothing it had written.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import sqlite3
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Iterable

from bolt_eval.types import UserError

SCHEMA = """
CREATE TABLE IF NOT EXISTS judgments (
    key TEXT PRIMARY KEY,
    judge TEXT NOT NULL,
    template TEXT NOT NULL,
    status TEXT NOT NULL,
    verdict TEXT,
    parser TEXT NOT NULL,
    raw TEXT NOT NULL,
    finish_reason TEXT NOT NULL,
    error TEXT,
    attempts INTEGER NOT NULL,
    prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    latency_s REAL NOT NULL,
    updated TEXT NOT NULL
)
"""


@dataclass
class Entry:
    """One row. Token counts and latency add up over every attempt: they are what was paid."""

    key: str
    judge: str
    template: str
    status: str
    verdict: Any
    parser: str
    raw: str
    finish_reason: str
    error: str | None
    attempts: int
    prompt_tokens: int
    completion_tokens: int
    latency_s: float

    def public(self) -> dict[str, Any]:
        """What a run folder keeps of a judgment (the raw reply stays in the ledger)."""
        return {"key": self.key, "status": self.status, "verdict": self.verdict, "attempts": self.attempts}


def judgment_key(judge_id: str, template: str, messages: Iterable[dict[str, str]], params: dict[str, Any]) -> str:
    blob = json.dumps({"judge": judge_id, "template": template, "messages": list(messages), "params": params},
                      sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()


class Ledger:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.db = sqlite3.connect(self.path, timeout=60, isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute(SCHEMA)
        except sqlite3.DatabaseError as err:
            raise UserError(f"{self.path}: not a usable judgment ledger ({err}); move it away to start a new one") from err

    def get(self, keys: list[str]) -> dict[str, Entry]:
        out: dict[str, Entry] = {}
        names = [f.name for f in fields(Entry)]
        for start in range(0, len(keys), 500):
            chunk = keys[start:start + 500]
            rows = self.db.execute(
                f"SELECT {', '.join(names)} FROM judgments WHERE key IN ({', '.join('?' * len(chunk))})", chunk)
            for row in rows:
                entry = Entry(**dict(zip(names, row)))
                entry.verdict = json.loads(entry.verdict) if entry.verdict is not None else None
                out[entry.key] = entry
        return out

    def put(self, entries: list[Entry]) -> None:
        """Write entries in one transaction (all or nothing)."""
        if not entries:
            return
        now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        names = [f.name for f in fields(Entry)]
        rows = [[json.dumps(e.verdict) if n == "verdict" and e.verdict is not None else getattr(e, n)
                 for n in names] + [now] for e in entries]
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            self.db.executemany(
                f"INSERT OR REPLACE INTO judgments ({', '.join(names)}, updated) "
                f"VALUES ({', '.join('?' * (len(names) + 1))})", rows)

    def counts(self) -> dict[str, int]:
        return dict(self.db.execute("SELECT status, COUNT(*) FROM judgments GROUP BY status").fetchall())

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
