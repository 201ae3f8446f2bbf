"""`bolt-eval arena-fit RUN...`: Arena-Hard checkpoints fitted together against one
baseline, as a training run produces them: one Bradley-Terry fit with style control over
all their battles (arena-hard-auto fits its whole leaderboard this way), one table.

Each run folder is read back as the runner left it (samples, judgments, task options), and
its battles are rebuilt with the task's own code, so the joint fit and the per-run
summaries cannot disagree about what a battle is.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tabulate import tabulate

from bolt_eval.arena import style_control
from bolt_eval.registry import benchmarks
from bolt_eval.store import Run, Store
from bolt_eval.types import UserError


def run_battles(folder: Path) -> tuple[str, str, list[style_control.Battle], Any]:
    manifest, _ = Store(folder.parent).load(folder)
    config = manifest["config"]
    if not config["task"].startswith("arena_hard"):
        raise UserError(f"{folder}: a {config['task']} run; arena-fit takes Arena-Hard runs")
    source = config["data"]["source"]  # "file:PATH" only for --data; official sources are named otherwise
    data = source[len("file:"):] if source.startswith("file:") else None
    task = benchmarks.get(config["task"])(data=data, **config.get("task_options", {}))
    samples = {s.id: s for s in task.load().samples}
    records = Run(folder, manifest)._read_records(repair=False)
    judged = {}
    for line in (folder / "judgments.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        judged[row["id"]] = row["judgments"]
    ids = [i for i in records if i in samples and i in judged]
    merged = [{**records[i], "outputs": [{**o, "judgments": j} for o, j in zip(records[i]["outputs"], judged[i])]}
              for i in ids]
    return manifest["label"], config["task"], task.battles([samples[i] for i in ids], merged, model=manifest["label"]), task


def joint_table(folders: list[Path], style: str = "both", rounds: int = 100, fmt: str = "github") -> str:
    loaded = [run_battles(Path(f)) for f in folders]
    if len({task for _, task, _, _ in loaded}) != 1:
        raise UserError("arena-fit: the runs are of different tasks; fit arena_hard and arena_hard_v2 apart")
    labels = [label for label, *_ in loaded]
    if len(set(labels)) != len(labels):
        raise UserError(f"arena-fit: two runs share a label ({labels}); give each checkpoint its own --label")
    battles = [b for _, _, bs, _ in loaded for b in bs]
    rows, notes = [], []
    for category in sorted({b.model.split("|", 1)[1] for b in battles}):
        subset = [b for b in battles if b.model.endswith(f"|{category}")]
        result = style_control.fit(subset, style)
        notes += [f"- {category}: {n}" for n in result.notes]
        ci = style_control.bootstrap(subset, style, rounds)
        for key in sorted(result.win_rate, key=result.win_rate.get, reverse=True):
            lo, hi = ci[key].lo, ci[key].hi
            rows.append([key.split("|")[0], category, f"{100 * result.win_rate[key]:.1f}",
                         f"[{100 * lo:.1f}, {100 * hi:.1f}]", f"{100 * result.win_rate_parity[key]:.1f}",
                         sum(b.model == key for b in subset)])
    table = tabulate(rows, headers=["checkpoint", "category", "SC win rate %", "95% CI", "at style parity %", "battles"],
                     tablefmt=fmt, disable_numparse=True)
    return "\n".join([table, *notes])
