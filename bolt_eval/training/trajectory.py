"""A training run's trajectory: every evaluated checkpoint, in training order.

    <output_dir>/trajectory.jsonl   one entry per evaluated checkpoint, appended durably

An entry says which checkpoint (stage, iteration, step, folder and weight fingerprint) was
evaluated under which label, and which run folders hold its results (`run_ids` under
`results`). The fingerprint is the key: a checkpoint already in the trajectory is never
evaluated again, so a resumed trainer or a restarted watcher pays nothing twice. Entries
are appended through the stage journals' durable writer (flush + fsync, a torn last line
from a kill is cut off), so the file is safe to read while a trainer writes it.

When a stage starts over (its folder was removed, or another configuration trains in a new
one), its earlier entries, and those of the stages after it, are retired: a marker line
says so, and the entries before it are no longer read (the report would otherwise show the
old run's `iter-1` beside the new one's). Nothing is deleted: the lines and their results
stay on disk.

Training order, as the paper's Figure 6 reads: the initial model, then SFT by step, then
each online iteration; stages this file does not know follow in the order first seen.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any

from bolt_eval.training.workdir import Journal
from bolt_eval.types import UserError

FILENAME = "trajectory.jsonl"
STAGE_ORDER = ("init", "sft", "online")


class Trajectory:
    """The trajectory file of `output_dir` (or the file itself, when a `.jsonl` path is given)."""

    def __init__(self, output_dir: str | Path) -> None:
        p = Path(output_dir)
        self.path = p if p.suffix == ".jsonl" else p / FILENAME
        self._journal: Journal | None = None

    def _read(self) -> dict[str, dict[str, Any]]:
        """The entries on disk by fingerprint (the first of a key wins), read without
        writing: a last line still being written by another process is left alone."""
        if not self.path.exists():
            return {}
        raw = self.path.read_bytes()
        out: dict[str, dict[str, Any]] = {}
        for n, line in enumerate(raw[: raw.rfind(b"\n") + 1].decode("utf-8").split("\n")[:-1], start=1):
            try:
                entry = json.loads(line)
            except json.JSONDecodeError as err:
                raise UserError(f"{self.path} line {n}: corrupt entry ({err.msg}); remove the line") from err
            if "retired" in entry:  # a stage started over: what it and the later stages had so far is gone
                out = {k: e for k, e in out.items() if e["stage"] not in entry["retired"]}
            else:
                out.setdefault(entry["key"], entry)
        return out

    def entries(self) -> list[dict[str, Any]]:
        """Entries in training order (stage, iteration, step; then as appended)."""
        found = list(self._read().values())
        seen = list(dict.fromkeys(e["stage"] for e in found))

        def rank(item: tuple[int, dict[str, Any]]) -> tuple[int, int, int, float, int]:
            i, e = item
            stage = STAGE_ORDER.index(e["stage"]) if e["stage"] in STAGE_ORDER else len(STAGE_ORDER) + seen.index(e["stage"])
            step = e.get("step")
            return (stage, e.get("iteration") or 0, 1 if step is None else 0, step or 0, i)

        return [e for _, e in sorted(enumerate(found), key=rank)]

    def find(self, fingerprint: str) -> dict[str, Any] | None:
        return self._read().get(fingerprint)

    def append(self, entry: dict[str, Any]) -> None:
        for key in ("stage", "label", "checkpoint", "fingerprint", "run_ids"):
            if key not in entry:
                raise ValueError(f"trajectory entry lacks {key!r}: {entry}")
        if self._journal is None:
            self._journal = Journal(self.path)
        self._journal.append({**entry, "key": entry["fingerprint"]})

    def retire(self, stage: str, why: str) -> int:
        """Retire the entries of `stage` and of the stages after it (see the module
        docstring); returns how many were retired (0: nothing written)."""
        later = STAGE_ORDER[STAGE_ORDER.index(stage):]
        gone = [e for e in self._read().values() if e["stage"] in later]
        if gone:
            if self._journal is None:
                self._journal = Journal(self.path)
            now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
            self._journal.append({"key": f"retired:{stage}:{now}", "retired": list(later), "why": why, "time": now})
            print(f"bolt-eval: {self.path}: {len(gone)} entries of an earlier {'/'.join(later)} run retired ({why})",
                  file=sys.stderr, flush=True)
        return len(gone)

    def close(self) -> None:
        if self._journal is not None:
            self._journal.close()
            self._journal = None


def retire_stage(output_dir: str | Path, stage: str, why: str) -> int:
    """`Trajectory.retire` on the trajectory of `output_dir`, closed after."""
    trajectory = Trajectory(output_dir)
    try:
        return trajectory.retire(stage, why)
    finally:
        trajectory.close()
