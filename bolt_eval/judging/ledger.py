"""The ledger: a content-addressed SQLite store of judgments, shared by every run.

A judgment's key is a hash of what determines the judge's reply: the judge model id, the
template id and hash, the rendered messages and the sampling parameters. The parser is
not in the key: a row remembers which parser version produced its verdict, and a new
parser re-parses the stored raw reply instead of calling the judge. Failures (api_error,
parse_error, refused, truncated) are stored as failures with the reply that caused them,
and are asked again on the next run; only `ok` rows are final. A row says how its verdict
was obtained (`method`): `free`, written by the judge, or `constrained`, chosen among the
template's allowed verdicts after the judge's own reply (judging/constrained.py), with the
verdict text and, where scored, each allowed verdict's log-likelihood.

One file per results root (`<out>/judgments.sqlite`), in WAL mode, so concurrent runs
share it and a killed run loses nothing it had written. The file is created by the first
judgment written (a run that fails on its configuration leaves none), and an existing file
is checked when opened (`PRAGMA quick_check`, ~1 s per GB): a damaged ledger stops the run
before anything is generated, with the way to recover it, instead of failing hours later.
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
    updated TEXT NOT NULL,
    method TEXT NOT NULL DEFAULT 'free',
    verdict_text TEXT,
    choice_logprobs TEXT
)
"""
# Columns added since the first schema: a ledger written before them gains them when opened
# (its rows read as free verdicts); nothing is lost or rewritten.
ADDED = {"method": "TEXT NOT NULL DEFAULT 'free'", "verdict_text": "TEXT", "choice_logprobs": "TEXT"}
JSON_FIELDS = ("verdict", "choice_logprobs")


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
    method: str = "free"  # how the verdict was obtained: "free" | "constrained"
    verdict_text: str | None = None  # constrained: the verdict text chosen after the reply
    choice_logprobs: dict[str, float] | None = None  # each allowed verdict's log-likelihood, when scored

    def public(self) -> dict[str, Any]:
        """What a run folder keeps of a judgment (the raw reply stays in the ledger)."""
        return {"key": self.key, "status": self.status, "verdict": self.verdict, "attempts": self.attempts,
                "method": self.method}


def judgment_key(judge_id: str, template: str, messages: Iterable[dict[str, str]], params: dict[str, Any]) -> str:
    blob = json.dumps({"judge": judge_id, "template": template, "messages": list(messages), "params": params},
                      sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()


NAMES = [f.name for f in fields(Entry)]


def _migrate(db: sqlite3.Connection) -> None:
    """Add the columns a ledger of an earlier schema lacks, in one transaction (two processes
    opening the same old ledger at once: the second finds them added)."""
    def missing() -> list[str]:
        have = {row[1] for row in db.execute("PRAGMA table_info(judgments)")}
        return [name for name in ADDED if name not in have]

    if not missing():
        return
    with db:
        db.execute("BEGIN IMMEDIATE")
        for name in missing():
            db.execute(f"ALTER TABLE judgments ADD COLUMN {name} {ADDED[name]}")
LOCK_TIMEOUT_S = 60.0


class Ledger:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._db: sqlite3.Connection | None = None
        if self.path.exists():
            self._open()

    @property
    def db(self) -> sqlite3.Connection:
        """The connection; the file (and its folder) is created on first use."""
        return self._db if self._db is not None else self._open()

    def _open(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, timeout=LOCK_TIMEOUT_S, isolation_level=None)  # reads nothing yet
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute(SCHEMA)
            [(check,)] = db.execute("PRAGMA quick_check(1)").fetchall()
            if check != "ok":
                raise sqlite3.DatabaseError(check.replace("\n", " "))
            _migrate(db)
            db.execute(f"SELECT {', '.join(NAMES)} FROM judgments LIMIT 0")  # a table of another schema fails here
        except sqlite3.DatabaseError as err:
            db.close()
            raise self._error(err) from err
        self._db = db
        return db

    def _error(self, err: sqlite3.DatabaseError) -> UserError:
        if "locked" in str(err):
            return UserError(f"{self.path}: the judgment ledger stayed locked by another process for "
                             f"{LOCK_TIMEOUT_S:g} s ({err}); re-run when that process has finished")
        return UserError(
            f"{self.path}: the judgment ledger is damaged ({err}). Restore it from a backup, or salvage it "
            f"with `sqlite3 {self.path} .recover | sqlite3 recovered.sqlite` and put that in its place; "
            "moving it away starts an empty ledger (its judgments are then asked, and paid, again)")

    def get(self, keys: list[str]) -> dict[str, Entry]:
        out: dict[str, Entry] = {}
        if self._db is None and not self.path.exists():
            return out  # nothing judged yet under this root: no file to create
        for start in range(0, len(keys), 500):
            chunk = keys[start:start + 500]
            try:
                rows = self.db.execute(
                    f"SELECT {', '.join(NAMES)} FROM judgments WHERE key IN ({', '.join('?' * len(chunk))})",
                    chunk).fetchall()
            except sqlite3.DatabaseError as err:
                raise self._error(err) from err
            for row in rows:
                entry = Entry(**dict(zip(NAMES, row)))
                for name in JSON_FIELDS:
                    value = getattr(entry, name)
                    setattr(entry, name, json.loads(value) if value is not None else None)
                out[entry.key] = entry
        return out

    def put(self, entries: list[Entry]) -> None:
        """Write entries in one transaction (all or nothing)."""
        if not entries:
            return
        now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        rows = [[json.dumps(getattr(e, n)) if n in JSON_FIELDS and getattr(e, n) is not None else getattr(e, n)
                 for n in NAMES] + [now] for e in entries]
        db = self.db
        try:
            with db:
                db.execute("BEGIN IMMEDIATE")
                db.executemany(
                    f"INSERT OR REPLACE INTO judgments ({', '.join(NAMES)}, updated) "
                    f"VALUES ({', '.join('?' * (len(NAMES) + 1))})", rows)
        except sqlite3.DatabaseError as err:
            raise self._error(err) from err

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
