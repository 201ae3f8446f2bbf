"""`bolt-eval train <stage>` and `bolt-eval watch`: argument parsing only.

Each stage lives in `bolt_eval/training/<stage>.py` and exposes `run(recipe, progress)`,
which returns the summary table it prints. Heavy imports stay inside those modules.
"""

from __future__ import annotations

import argparse
import importlib
from typing import Any

STAGES = {
    "queries": "curate the query set (criteria judge, topic mix, decontamination)",
    "bootstrap": "stage 1: long-CoT SFT data by in-context learning, ORM-filtered",
    "sft": "stage 2: long-CoT SFT (full or LoRA), every checkpoint evaluated",
    "online": "stage 3: online training with the outcome reward model (DPO, RLOO, REINFORCE)",
    "pipeline": "stages 1-3, each skipped when done, then the report",
}


def add_training_parsers(sub: Any) -> None:
    train = sub.add_parser("train", help="BOLT training stages from a recipe (training/recipes/*.yaml)")
    stages = train.add_subparsers(dest="stage", required=True)
    for name, text in STAGES.items():
        p = stages.add_parser(name, help=text, description=text)
        p.add_argument("--recipe", required=True, help="recipe YAML, e.g. training/recipes/tiny-cpu.yaml")
        p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="overrides",
                       help="override a recipe field, e.g. --set sft.learning_rate=1e-5 (recorded in manifests)")
        p.add_argument("--no-progress", action="store_true", help="hide progress bars")
        p.set_defaults(func=cmd_train)


def cmd_train(args: argparse.Namespace) -> int:
    from bolt_eval.training.recipe import load_recipe

    recipe = load_recipe(args.recipe, args.overrides)
    module = importlib.import_module(f"bolt_eval.training.{args.stage}")
    print(module.run(recipe, progress=not args.no_progress))
    return 0
