"""The run store: the only code that reads or writes `results/`.

results/<run-id>/
  manifest.json   what produced the run (config + provenance + times + token counts)
  samples.jsonl   one record per finished sample, appended durably (flush + fsync)
  summary.json    the aggregate, a pure function of the records (no timestamps), so an
                  interrupted-then-resumed run writes the same bytes as an uninterrupted one

The run id is derived from the configuration, so re-running the same command finds the
same folder and resumes: finished samples are skipped, a torn last line (a kill mid-write)
is cut off. A lock file keeps two processes from writing one run at once.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import sys
from pathlib import Path
from typing import Any, TextIO

from bolt_eval.types import UserError


def config_hash(config: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()


def slug(name: str, limit: int = 60) -> str:
    """A file-name-safe label: no separators, no leading dots, bounded length."""
    s = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._-") or "model"
    return s[-limit:].lstrip("._-") or "model"


def write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def dump(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


class Run:
    """One open run folder. Use as a context manager: it holds the folder's lock."""

    def __init__(self, folder: Path, manifest: dict[str, Any]) -> None:
        self.dir = folder
        self.manifest = manifest
        self.samples_path = folder / "samples.jsonl"
        self._fh: TextIO | None = None
        self._lock: TextIO | None = None

    def __enter__(self) -> Run:
        self.dir.mkdir(parents=True, exist_ok=True)
        self._lock = open(self.dir / ".lock", "w")
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"bolt-eval: waiting for another process writing {self.dir}", file=sys.stderr, flush=True)
            fcntl.flock(self._lock, fcntl.LOCK_EX)
        self._check_manifest()
        self.records = self._read_records()
        self._fh = open(self.samples_path, "a", encoding="utf-8")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fh:
            self._fh.close()
        if self._lock:
            self._lock.close()

    def _check_manifest(self) -> None:
        path = self.dir / "manifest.json"
        if path.exists():
            try:
                old = json.loads(path.read_text(encoding="utf-8"))
            except json.JSONDecodeError as err:
                raise UserError(f"{path}: corrupt manifest ({err.msg}); remove the folder to start over") from err
            if old.get("config_hash") != self.manifest["config_hash"]:
                diff = sorted(k for k in set(old.get("config", {})) | set(self.manifest["config"])
                              if old.get("config", {}).get(k) != self.manifest["config"].get(k))
                raise UserError(
                    f"{self.dir} belongs to a different configuration (differs in: "
                    f"{', '.join(diff) or 'config hash'}); use another --out or remove the folder"
                )
            self.manifest["started"] = old.get("started", self.manifest.get("started"))
        self.write_manifest()

    def _read_records(self) -> dict[str, dict[str, Any]]:
        if not self.samples_path.exists():
            return {}
        raw = self.samples_path.read_bytes()
        keep = raw[: raw.rfind(b"\n") + 1]
        if len(keep) != len(raw):
            print(f"bolt-eval: {self.samples_path}: dropping a torn last line ({len(raw) - len(keep)} bytes)",
                  file=sys.stderr, flush=True)
            with open(self.samples_path, "r+b") as fh:
                fh.truncate(len(keep))
        records: dict[str, dict[str, Any]] = {}
        for n, line in enumerate(keep.decode("utf-8").splitlines(), start=1):
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as err:
                raise UserError(f"{self.samples_path} line {n}: corrupt record ({err.msg}); "
                                "remove the line or the run folder") from err
            records.setdefault(rec["id"], rec)
        return records

    def append(self, record: dict[str, Any]) -> None:
        assert self._fh is not None, "append outside `with run:`"
        self._fh.write(json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n")
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self.records[record["id"]] = record

    def write_manifest(self) -> None:
        write_atomic(self.dir / "manifest.json", dump(self.manifest))

    def write_summary(self, summary: dict[str, Any]) -> None:
        write_atomic(self.dir / "summary.json", dump(summary))


class Store:
    def __init__(self, root: str | Path = "results") -> None:
        self.root = Path(root)

    def run_id(self, label: str, task: str, chash: str) -> str:
        return f"{slug(label)}--{slug(task)}--{chash[:12]}"

    def open(self, run_id: str, manifest: dict[str, Any]) -> Run:
        folder = (self.root / run_id).resolve()
        if self.root.resolve() not in folder.parents:
            raise UserError(f"run id {run_id!r} would escape the results root {self.root}")
        return Run(folder, manifest)

    def load(self, folder: str | Path) -> tuple[dict[str, Any], dict[str, Any]]:
        """(manifest, summary) of a finished run folder."""
        f = Path(folder)
        try:
            return (json.loads((f / "manifest.json").read_text(encoding="utf-8")),
                    json.loads((f / "summary.json").read_text(encoding="utf-8")))
        except FileNotFoundError as err:
            raise UserError(f"{f}: not a finished run (missing {Path(err.filename).name})") from err
