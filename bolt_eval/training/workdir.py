"""A training stage's folder under the recipe's output_dir, and the journals in it.

    <output_dir>/<stage>/manifest.json   what produced it: recipe (file hash, overrides),
                                         stage config hash, models and fingerprints, data
                                         sources and hashes, counts, version, git sha
    <output_dir>/<stage>/*.jsonl         journals: one keyed record per finished unit of
                                         work, appended durably (flush + fsync)

A stage resumes from its journals: a record whose key is present is never computed again
(in a journal opened with `replace=True` a later record of a key supersedes the earlier:
stage 1's rewards, scored anew when the reward model changes), and a torn last line (a kill
mid-write) is cut off. A stage whose manifest says `complete` with the same config hash is
skipped. A lock keeps two processes out of one stage folder.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Any, Iterator, TextIO

from bolt_eval import __version__
from bolt_eval.store import config_hash, dump, read_manifest, write_atomic
from bolt_eval.types import UserError


class Journal:
    """An append-only JSONL file of records keyed by `key`: the first record of a key wins,
    or the last with `replace=True` (a record recomputed under other settings)."""

    def __init__(self, path: Path, replace: bool = False) -> None:
        self.path = path
        self.replace = replace
        self.records: dict[str, dict[str, Any]] = {}
        self._fh: TextIO | None = None
        if path.exists():
            raw = path.read_bytes()
            keep = raw[: raw.rfind(b"\n") + 1]
            if len(keep) != len(raw):
                print(f"bolt-eval: {path}: dropping a torn last line ({len(raw) - len(keep)} bytes)",
                      file=sys.stderr, flush=True)
                with open(path, "r+b") as fh:
                    fh.truncate(len(keep))
            for n, line in enumerate(keep.decode("utf-8").split("\n")[:-1], start=1):
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError as err:
                    raise UserError(f"{path} line {n}: corrupt record ({err.msg}); remove the line or the file") from err
                self._keep(rec)

    def _keep(self, rec: dict[str, Any]) -> None:
        if self.replace:
            self.records[rec["key"]] = rec
        else:
            self.records.setdefault(rec["key"], rec)

    def __contains__(self, key: str) -> bool:
        return key in self.records

    def __len__(self) -> int:
        return len(self.records)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.records.values())

    def append(self, record: dict[str, Any]) -> None:
        if self._fh is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = open(self.path, "a", encoding="utf-8")
        self._fh.write(json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n")
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self._keep(record)

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> str:
    """Write rows atomically; returns the file's sha256."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in rows))
    return file_sha256(path)


class StageDir:
    """One stage's folder. Use as a context manager: it holds the folder's lock and writes
    the manifest (`running`, then whatever `finish` records)."""

    def __init__(self, recipe: Any, stage: str, config: dict[str, Any]) -> None:
        self.recipe = recipe
        self.stage = stage
        self.dir = Path(recipe.output_dir) / stage
        self.config = config
        self.hash = config_hash({"stage": stage, "config": config})
        self.manifest: dict[str, Any] = {}
        self._lock: TextIO | None = None
        self._journals: list[Journal] = []

    def previous(self) -> dict[str, Any] | None:
        return read_manifest(self.dir)

    def finished(self) -> bool:
        old = self.previous()
        return bool(old and old.get("status") == "complete" and old.get("config_hash") == self.hash)

    def __enter__(self) -> StageDir:
        self.dir.mkdir(parents=True, exist_ok=True)
        self._lock = open(self.dir / ".lock", "w")
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise UserError(f"{self.dir} is in use by another bolt-eval process; wait for it or stop it") from None
        old = self.previous() or {}
        self.manifest = {
            "stage": self.stage, "status": "running", "config_hash": self.hash, "config": self.config,
            "recipe": {"name": self.recipe.name, "file": self.recipe.source,
                       "file_sha256": file_sha256(self.recipe.source) if self.recipe.source else None,
                       "overrides": list(self.recipe.overrides)},
            "started": old.get("started") if old.get("config_hash") == self.hash else _now(),
            "package_version": __version__, "git_sha": _git_sha(),
        }
        self.write_manifest()
        return self

    def journal(self, name: str, replace: bool = False) -> Journal:
        j = Journal(self.dir / name, replace)
        self._journals.append(j)
        return j

    def write_manifest(self) -> None:
        write_atomic(self.dir / "manifest.json", dump(self.manifest))

    def finish(self, **fields: Any) -> None:
        self.manifest.update(fields, status="complete", finished=_now())
        self.write_manifest()

    def __exit__(self, *exc: object) -> None:
        for j in self._journals:
            j.close()
        if self._lock is not None:
            self._lock.close()
            self._lock = None


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def _git_sha() -> str | None:
    from bolt_eval.runner import _git_sha as sha

    return sha()
