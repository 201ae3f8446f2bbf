"""`bolt-eval watch DIR`: evaluate every checkpoint any trainer writes into DIR.

Polls DIR (and sub-folders up to three deep: verl's `global_step_N/actor/huggingface`)
for model folders (config + weights, or a LoRA adapter), and evaluates each complete one
once, in step order, through `autoeval.evaluate_model` (the same run API and store as
`bolt-eval run`; results under `DIR/results/`), keeping the trajectory in
`DIR/trajectory.jsonl`. A folder is complete when `checkpoints.incomplete_reason` finds
nothing missing and either `trainer_state.json` (written last by transformers/trl) is
there or its files did not change between two polls; a half-written checkpoint is never
loaded. Restartable: what the trajectory holds (by weight fingerprint) is skipped.
`--once` evaluates what is complete now and exits (CI). The trainer pays nothing: the
watcher runs in its own process, on its own device if given one.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from tabulate import tabulate

from bolt_eval.training.checkpoints import MERGED_PREFIX, fingerprint, incomplete_reason, is_checkpoint, snapshot, step_of
from bolt_eval.training.recipe import EvalSettings
from bolt_eval.types import UserError

SKIP = ("results",)


def candidates(root: Path, depth: int = 3) -> Iterator[Path]:
    """Model folders under root (not root itself), not descending into one."""
    for child in sorted(p for p in root.iterdir() if p.is_dir()):
        if child.name.startswith((".", MERGED_PREFIX)) or child.name in SKIP:
            continue
        if is_checkpoint(child):
            yield child
        elif depth > 1:
            yield from candidates(child, depth - 1)


def _order(p: Path) -> tuple[int, int, str]:
    step = step_of(p)
    return (step is None, step or 0, str(p))


@dataclass
class Watcher:
    root: Path
    settings: EvalSettings
    thoughts: str = "bolt"
    label_prefix: str = ""
    stage: str = "train"
    trajectory: Path | None = None
    results: Path | None = None
    base_model: str | None = None
    progress: bool = True
    seen: dict[Path, Any] = field(default_factory=dict)
    done: set[Path] = field(default_factory=set)

    def poll(self) -> tuple[list[Path], dict[Path, str]]:
        """(folders ready to evaluate now, in step order; folders still being written -> why)."""
        ready, waiting = [], {}
        for folder in candidates(self.root):
            if folder in self.done:
                continue
            reason = incomplete_reason(folder)
            snap = snapshot(folder)
            if reason is None and ((folder / "trainer_state.json").is_file() or self.seen.get(folder) == snap):
                ready.append(folder)
            else:
                waiting[folder] = reason or "files still changing (or seen once)"
            self.seen[folder] = snap
        blocked = min((step_of(f) for f in waiting if step_of(f) is not None), default=None)
        ready = [f for f in ready if blocked is None or (step_of(f) is not None and step_of(f) < blocked)]
        return sorted(ready, key=_order), waiting

    def label(self, folder: Path) -> str:
        step = step_of(folder)
        return f"{self.label_prefix}{step if step is not None else folder.name}"

    def evaluate(self, folder: Path, stage: str | None = None, label: str | None = None) -> dict[str, Any] | None:
        """Evaluate into the trajectory; None when it already holds these weights."""
        from bolt_eval.training.autoeval import evaluate_model
        from bolt_eval.training.trajectory import Trajectory

        traj = Trajectory(self.trajectory or self.root)
        self.done.add(folder)
        if Path(folder).exists() and traj.find(fingerprint(folder)) is not None:
            return None
        try:
            entry = evaluate_model(self.settings, self.thoughts, folder, label=label or self.label(folder),
                                   trajectory=traj, results=self.results or self.root / "results",
                                   stage=stage or self.stage, step=step_of(folder) if stage is None else None,
                                   base_model=self.base_model, progress=self.progress)
        finally:
            traj.close()
        return entry


def watch(w: Watcher, once: bool = False, interval: float = 60.0, settle: float = 2.0, init: str | None = None) -> str:
    """Follow `w.root` until interrupted (or, with `once`, until what is there is done)."""
    if not w.root.is_dir():
        raise UserError(f"{w.root}: no such folder to watch; pass the trainer's output folder")
    evaluated: list[dict[str, Any] | None] = []
    if init:
        evaluated.append(w.evaluate(Path(init) if Path(init).exists() else init, stage="init",  # type: ignore[arg-type]
                                    label=f"{w.label_prefix}init"))
    polls = 0
    while True:
        ready, waiting = w.poll()
        polls += 1
        for folder in ready:
            evaluated.append(w.evaluate(folder))
        if waiting and w.progress:
            print(f"bolt-eval watch: waiting for {len(waiting)} checkpoint(s): " +
                  "; ".join(f"{f.name}: {why}" for f, why in sorted(waiting.items(), key=lambda x: _order(x[0]))),
                  file=sys.stderr, flush=True)
        if once and (not waiting or polls >= 2) and not ready:
            break
        time.sleep(settle if once else interval)
    rows = [[e["label"], e.get("step"), e["checkpoint"], e.get("eval_seconds")] for e in evaluated if e]
    text = tabulate(rows, headers=["evaluated", "step", "checkpoint", "eval s"], disable_numparse=True) if rows \
        else "nothing new to evaluate"
    if waiting:
        text += "\nnot complete yet, left for the next run: " + ", ".join(sorted(f.name for f in waiting))
    return text + "\n"
