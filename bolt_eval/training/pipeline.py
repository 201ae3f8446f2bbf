"""`bolt-eval train pipeline`: BOLT end to end from one recipe, then the report.

Runs the stages the recipe has sections for, in order (queries, bootstrap, sft, online).
Each stage skips itself when its outputs are complete and match the recipe (its config
hash), and resumes from its journals otherwise, so the same command after a kill picks up
where it stopped. Every checkpoint is evaluated into the trajectory by the stages
themselves (autoeval.py); the report (report.py) is built from what they wrote.
"""

from __future__ import annotations

import importlib
import sys
import time

from bolt_eval.training.recipe import Recipe

STAGES = ("queries", "bootstrap", "sft", "online")


def run(recipe: Recipe, progress: bool = True, reference: str | None = None) -> str:
    from bolt_eval.training.report import write_report

    present = [s for s in STAGES if getattr(recipe, s) is not None]
    times = []
    for name in present:
        print(f"bolt-eval: pipeline: stage {name}", file=sys.stderr, flush=True)
        started = time.monotonic()
        text = importlib.import_module(f"bolt_eval.training.{name}").run(recipe, progress=progress)
        times.append((name, time.monotonic() - started))
        print(text, file=sys.stderr, flush=True)
    report = write_report(recipe.out, reference)
    lines = [f"pipeline of {recipe.name}: " + ", ".join(f"{n} {s:.0f} s" for n, s in times),
             f"report: {report} (and report.html, figure5.png, figure6.png beside it)", "",
             report.read_text(encoding="utf-8")]
    return "\n".join(lines)
