"""A training run's trajectory: every evaluated checkpoint, in training order.

    <output_dir>/trajectory.jsonl   one entry per evaluated checkpoint, appended durably

An entry says which checkpoint (stage, iteration, step, folder and weight fingerprint) was
evaluated under which label, and which run folders hold its results (`run_ids` under
`results`). The fingerprint is the key: a checkpoint already in the trajectory is never
evaluated again, so a resumed trainer or a restarted watcher pays nothing twice. Entries
are appended through the stage journals' durable writer (flush + fsync, a torn last line
from a kill is cut off), so the file is safe to read while a trainer writes it.

Training order, as the paper's Figure 6 reads: the initial model, then SFT by step, then
each online iteration; stages this file does not know follow in the order first seen.
"""

from __future__ import annotations

import json
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

    def close(self) -> None:
        if self._journal is not None:
            self._journal.close()
            self._journal = None
