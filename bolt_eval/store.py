"""The run store: the only code that reads or writes `results/`.

results/<run-id>/
  manifest.json   what produced the run (config + provenance + times + token counts)
  samples.jsonl   one record per finished sample, appended durably (flush + fsync)
  judgments.jsonl judged tasks: per sample and output, each judgment's key, status and
                  verdict (the raw replies live in the ledger, <root>/judgments.sqlite)
  summary.json    the aggregate, a pure function of the records (no timestamps), so an
                  interrupted-then-resumed run writes the same bytes as an uninterrupted one

The run id is derived from the configuration, so re-running the same command finds the
same folder and resumes: finished samples are skipped, a torn last line (a kill mid-write)
is cut off. A lock file keeps two processes from writing one run at once (the second says
which process it waits for, then resumes what the first finished). A run that fails before
its first record removes the folder it created, so a failed start leaves nothing behind.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from bolt_eval.types import UserError

if TYPE_CHECKING:
    from bolt_eval.judging.ledger import Ledger


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


def conflict(folder: Path, old: dict[str, Any], new: dict[str, Any]) -> UserError | None:
    """The error for a folder whose manifest `old` has another configuration than `new`."""
    if old.get("config_hash") == new["config_hash"]:
        return None
    diff = sorted(k for k in set(old.get("config", {})) | set(new["config"])
                  if old.get("config", {}).get(k) != new["config"].get(k))
    return UserError(f"{folder} belongs to a different configuration (differs in: "
                     f"{', '.join(diff) or 'config hash'}); use another --out or remove the folder")


def read_manifest(folder: Path) -> dict[str, Any] | None:
    path = folder / "manifest.json"
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise UserError(f"{path}: corrupt manifest ({err.msg}); remove the folder to start over") from err


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
        self._created = not self.dir.exists()
        self._lock = self._acquire()
        try:
            self._check_manifest()
            self.records = self._read_records()
        except BaseException:
            self.__exit__(*sys.exc_info())
            raise
        self._fh = open(self.samples_path, "a", encoding="utf-8")
        return self

    def _acquire(self) -> TextIO:
        """The folder's lock, held until exit; the holder's pid is in the file, so a waiting
        run can say whom it waits for. A lock file removed while we waited (its run failed
        before any record) is not the folder's lock any more: take the new one."""
        while True:
            self.dir.mkdir(parents=True, exist_ok=True)
            lock = open(self.dir / ".lock", "a+")
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                lock.seek(0)
                holder = lock.read().strip() or "unknown"
                print(f"bolt-eval: {self.dir} is being written by another bolt-eval run (pid {holder}); "
                      "waiting for it to finish (Ctrl-C stops waiting; nothing is lost)", file=sys.stderr, flush=True)
                fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                same = os.fstat(lock.fileno()).st_ino == os.stat(self.dir / ".lock").st_ino
            except FileNotFoundError:
                same = False
            if same:
                lock.truncate(0)
                lock.write(str(os.getpid()))
                lock.flush()
                return lock
            lock.close()

    def __exit__(self, *exc: object) -> None:
        if self._fh:
            self._fh.close()
        if exc[0] is not None and self._created and not getattr(self, "records", None):
            for name in ("manifest.json", "samples.jsonl", ".lock"):  # the lock last, while still held
                (self.dir / name).unlink(missing_ok=True)
            try:
                self.dir.rmdir()
            except OSError:
                pass  # something else is in it: keep it
        if self._lock:
            self._lock.close()

    def _check_manifest(self) -> None:
        old = read_manifest(self.dir)
        if old is not None:
            if error := conflict(self.dir, old, self.manifest):
                raise error
            for kept in ("started", "provenance"):  # a re-run that loads no model keeps what one did
                if kept in old:
                    self.manifest[kept] = old[kept]
        self.write_manifest()

    def _read_records(self, repair: bool = True) -> dict[str, dict[str, Any]]:
        """The finished records; a torn last line (a kill mid-write) is cut off when
        `repair` (the lock is held), else ignored."""
        if not self.samples_path.exists():
            return {}
        raw = self.samples_path.read_bytes()
        keep = raw[: raw.rfind(b"\n") + 1]
        if len(keep) != len(raw) and repair:
            print(f"bolt-eval: {self.samples_path}: dropping a torn last line ({len(raw) - len(keep)} bytes)",
                  file=sys.stderr, flush=True)
            with open(self.samples_path, "r+b") as fh:
                fh.truncate(len(keep))
        records: dict[str, dict[str, Any]] = {}
        for n, line in enumerate(keep.decode("utf-8").split("\n")[:-1], start=1):  # U+2028 is not a line end
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

    def write_judgments(self, records: list[dict[str, Any]]) -> None:
        lines = [{"id": r["id"], "judgments": [o["judgments"] for o in r["outputs"]]} for r in records]
        write_atomic(self.dir / "judgments.jsonl",
                     "".join(json.dumps(x, ensure_ascii=False, sort_keys=True) + "\n" for x in lines))

    def write_summary(self, summary: dict[str, Any]) -> None:
        write_atomic(self.dir / "summary.json", dump(summary))


class Store:
    def __init__(self, root: str | Path = "results") -> None:
        self.root = Path(root)

    def run_id(self, label: str, task: str, chash: str) -> str:
        return f"{slug(label)}--{slug(task)}--{chash[:12]}"

    def folder(self, run_id: str) -> Path:
        """The run's folder, which must lie inside the root (no `..`, no symlink out)."""
        folder = (self.root / run_id).resolve()
        if self.root.resolve() not in folder.parents:
            raise UserError(f"run id {run_id!r} would escape the results root {self.root}")
        return folder

    def open(self, run_id: str, manifest: dict[str, Any]) -> Run:
        return Run(self.folder(run_id), manifest)

    def check(self, run_id: str, manifest: dict[str, Any]) -> None:
        """Refuse, before anything is written, a folder that holds another configuration."""
        folder = self.folder(run_id)
        old = read_manifest(folder)
        if old is not None and (error := conflict(folder, old, manifest)):
            raise error

    def peek(self, run_id: str) -> dict[str, dict[str, Any]]:
        """The finished records of a run, read without locking or writing (for --dry-run)."""
        return Run(self.root / run_id, {})._read_records(repair=False)

    def ledger(self) -> Ledger:
        from bolt_eval.judging.ledger import Ledger

        return Ledger(self.root / "judgments.sqlite")

    def reuse_answers(self, run: Run, generation_hash: str) -> int:
        """Seed a run with the answers of a run that generated them the same way (same model,
        data, prompts, sampling) but was judged differently: re-judging never regenerates.
        The most complete such run gives the records this one lacks, so a kill while copying
        costs nothing either. Returns how many records were copied."""
        donors = []
        for manifest_path in sorted(self.root.glob("*/manifest.json")):
            if manifest_path.parent.resolve() == run.dir:
                continue
            try:
                other = json.loads(manifest_path.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError):
                continue  # a broken neighbour is not this run's problem
            samples = manifest_path.parent / "samples.jsonl"
            if other.get("generation_hash") == generation_hash and samples.is_file():
                donors.append((samples.stat().st_size, manifest_path.parent, other))
        if not donors:
            return 0
        _, folder, other = max(donors, key=lambda d: d[0])  # the most answers, read alone (not every donor)
        name, donor = folder.name, Run(folder, other)._read_records(repair=False)
        missing = [record for sid, record in donor.items() if sid not in run.records]
        for record in missing:
            run.append(record)
        if missing:
            print(f"bolt-eval: reusing {len(missing)} answers from {name}", file=sys.stderr)
        return len(missing)

    def load(self, folder: str | Path) -> tuple[dict[str, Any], dict[str, Any]]:
        """(manifest, summary) of a finished run folder."""
        f = Path(folder)
        try:
            return (json.loads((f / "manifest.json").read_text(encoding="utf-8")),
                    json.loads((f / "summary.json").read_text(encoding="utf-8")))
        except FileNotFoundError as err:
            raise UserError(f"{f}: not a finished run (missing {Path(err.filename).name})") from err
