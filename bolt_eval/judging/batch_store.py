"""Batch API jobs, kept in the ledger's SQLite file beside the judgments they carry.

A job is one Batch API input file and the batch made from it. Its row is written *before*
anything is sent, and every id the API hands back (input file, batch) is written the
moment it arrives, so a killed `bolt-eval run --judge-mode batch` finds its jobs again:

    prepared  -> rows written; the input file may be uploading (found again by its name)
    uploaded  -> input_file_id known; the batch may be being created (found again by that file)
    submitted -> batch_id known; polled until the API says it is over
    collected | expired | cancelled | failed   -> over; answered judgments are in the ledger

A judgment key belongs to at most one open job (prepared, uploaded, submitted): claiming
keys for a new job happens in one IMMEDIATE transaction that leaves out the keys an open
job already holds, so no judgment is sent twice. Each request row keeps what the
judgment had cost before the job (`prior`), so turning a result line into a ledger entry
gives the same entry however often it is done (a kill mid-collection is harmless).
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from typing import Any

from bolt_eval.judging.ledger import Ledger

SCHEMA = """
CREATE TABLE IF NOT EXISTS batch_jobs (
    job TEXT PRIMARY KEY,
    judge TEXT NOT NULL,
    state TEXT NOT NULL,
    input_file_id TEXT,
    batch_id TEXT,
    requests INTEGER NOT NULL,
    created REAL NOT NULL,
    note TEXT
);
CREATE TABLE IF NOT EXISTS batch_requests (
    job TEXT NOT NULL,
    key TEXT NOT NULL,
    template TEXT NOT NULL,
    parser TEXT NOT NULL,
    prior TEXT NOT NULL,
    error TEXT,
    PRIMARY KEY (job, key)
);
CREATE INDEX IF NOT EXISTS batch_requests_by_key ON batch_requests (key);
"""
OPEN = ("prepared", "uploaded", "submitted")


@dataclass(frozen=True)
class Job:
    job: str
    judge: str
    state: str
    input_file_id: str | None
    batch_id: str | None
    requests: int
    created: float
    note: str | None

    @property
    def file_name(self) -> str:
        """The input file's name at the API: how a job killed mid-upload finds its file."""
        return f"bolt-eval-{self.job}.jsonl"


@dataclass(frozen=True)
class Claim:
    """One judgment to send in a job: its key (the line's custom_id), what its ledger entry
    needs besides the reply (template, parser) and what it had cost before (`prior`)."""

    key: str
    template: str
    parser: str
    prior: dict[str, Any]


class BatchStore:
    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self._ready = False

    @property
    def db(self) -> sqlite3.Connection:
        db = self.ledger.db
        if not self._ready:
            db.executescript(SCHEMA)
            self._ready = True
        return db

    def jobs(self, judge: str, states: tuple[str, ...] = OPEN) -> list[Job]:
        rows = self.db.execute(
            f"SELECT job, judge, state, input_file_id, batch_id, requests, created, note FROM batch_jobs "
            f"WHERE judge = ? AND state IN ({', '.join('?' * len(states))}) ORDER BY created, job",
            [judge, *states]).fetchall()
        return [Job(*row) for row in rows]

    def get(self, job: str) -> Job:
        row = self.db.execute("SELECT job, judge, state, input_file_id, batch_id, requests, created, note "
                              "FROM batch_jobs WHERE job = ?", [job]).fetchone()
        return Job(*row)

    def claimed(self, keys: list[str]) -> set[str]:
        """The keys among `keys` that an open job holds."""
        out: set[str] = set()
        for start in range(0, len(keys), 500):
            chunk = keys[start:start + 500]
            out |= {k for (k,) in self.db.execute(
                f"SELECT r.key FROM batch_requests r JOIN batch_jobs j ON j.job = r.job "
                f"WHERE j.state IN ({', '.join('?' * len(OPEN))}) AND r.key IN ({', '.join('?' * len(chunk))})",
                [*OPEN, *chunk])}
        return out

    def reserve(self, job: str, judge: str, claims: list[Claim]) -> list[Claim]:
        """Record a prepared job holding those of `claims` no open job holds yet (one
        transaction); returns them (nothing recorded when none is left)."""
        db = self.db
        with db:
            db.execute("BEGIN IMMEDIATE")
            taken = self.claimed([c.key for c in claims])
            mine = [c for c in claims if c.key not in taken]
            if mine:
                db.execute("INSERT INTO batch_jobs (job, judge, state, requests, created) VALUES (?, ?, 'prepared', ?, ?)",
                           [job, judge, len(mine), time.time()])
                db.executemany("INSERT INTO batch_requests (job, key, template, parser, prior) VALUES (?, ?, ?, ?, ?)",
                               [(job, c.key, c.template, c.parser, json.dumps(c.prior)) for c in mine])
        return mine

    def update(self, job: str, **fields: Any) -> Job:
        names = sorted(fields)
        with self.db:
            self.db.execute(f"UPDATE batch_jobs SET {', '.join(f'{n} = ?' for n in names)} WHERE job = ?",
                            [fields[n] for n in names] + [job])
        return self.get(job)

    def drop(self, job: str) -> None:
        """Forget a prepared job whose file never reached the API: its keys are free again."""
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            self.db.execute("DELETE FROM batch_requests WHERE job = ?", [job])
            self.db.execute("DELETE FROM batch_jobs WHERE job = ?", [job])

    def claims(self, job: str) -> list[Claim]:
        rows = self.db.execute("SELECT key, template, parser, prior FROM batch_requests WHERE job = ? ORDER BY key",
                               [job]).fetchall()
        return [Claim(k, t, p, json.loads(prior)) for k, t, p, prior in rows]

    def note_errors(self, job: str, errors: dict[str, str]) -> None:
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            self.db.executemany("UPDATE batch_requests SET error = ? WHERE job = ? AND key = ?",
                                [(msg, job, key) for key, msg in errors.items()])
