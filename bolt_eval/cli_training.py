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
    "online": ("stage 3: online training with the outcome reward model (DPO, RLOO, REINFORCE; "
               "PPO, whose training steps run in the `nox -s ppo` environment)"),
    "pipeline": "stages 1-3, each skipped when done, then the report",
    "ablation": "one SFT per perturbation condition, all evaluated, one table",
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
        if name in ("pipeline", "ablation"):
            p.add_argument("--reference", help="published rows beside yours in the report, e.g. bolt-paper "
                                                 "or structure-not-content")
        p.set_defaults(func=cmd_train)
    add_watch_parser(sub)


def add_watch_parser(sub: Any) -> None:
    w = sub.add_parser("watch", help="evaluate every checkpoint a trainer writes into DIR (any trainer), once each",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    w.add_argument("dir", help="the trainer's output folder (checkpoint-N/, global_step_N/, LoRA adapters)")
    w.add_argument("--suite", default="smoke", help="evaluation suite from tasks/suites/")
    w.add_argument("--data", action="append", default=[], metavar="TASK=FILE",
                   help="evaluate TASK on FILE instead of the suite (repeatable)")
    w.add_argument("--limit", type=int, help="first N samples of each task")
    w.add_argument("--label-prefix", help="labels are PREFIX<step> (default: DIR's name and '/')")
    w.add_argument("--stage", default="train", help="stage name in the trajectory (sft, online, ...)")
    w.add_argument("--init", metavar="MODEL", help="also evaluate the model training started from, as 'init'")
    w.add_argument("--base-model", help="base of LoRA adapters (default: adapter_config.json's)")
    w.add_argument("--thoughts", default="bolt", help="long-CoT delimiters: bolt | think | sky-t1 | none")
    w.add_argument("--backend", default="hf", help="hf | vllm | vllm-serve")
    w.add_argument("--batch-size", type=int)
    w.add_argument("--max-new-tokens", type=int, help="default: the suite's")
    w.add_argument("--judge-model", help="judge of judged tasks (default: the suite's)")
    w.add_argument("--judge-backend", default="hf")
    w.add_argument("--trajectory", metavar="FILE", help="trajectory file (default DIR/trajectory.jsonl)")
    w.add_argument("--out", help="results root (default DIR/results)")
    w.add_argument("--once", action="store_true", help="evaluate what is complete now, then exit (CI)")
    w.add_argument("--interval", type=float, default=60.0, help="seconds between polls")
    w.add_argument("--no-progress", action="store_true", help="hide progress bars")
    w.set_defaults(func=cmd_watch)


def cmd_watch(args: argparse.Namespace) -> int:
    from pathlib import Path

    from bolt_eval.training.recipe import EvalSettings, EvalTask, ModelRef
    from bolt_eval.training.watch import Watcher, watch
    from bolt_eval.types import UserError

    tasks = []
    for item in args.data:
        name, sep, path = item.partition("=")
        if not sep:
            raise UserError(f"--data {item}: write TASK=FILE, e.g. --data zebralogic=tasks/zebralogic/smoke.jsonl")
        tasks.append(EvalTask(name=name, data=path))
    judge = ModelRef(model=args.judge_model, backend=args.judge_backend) if args.judge_model else None
    settings = EvalSettings(suite=args.suite, tasks=tasks, backend=args.backend, batch_size=args.batch_size,
                            max_new_tokens=args.max_new_tokens, limit=args.limit, judge=judge, mode="watch")
    root = Path(args.dir)
    w = Watcher(root, settings, args.thoughts, args.label_prefix if args.label_prefix is not None else f"{root.name}/",
                args.stage, Path(args.trajectory) if args.trajectory else None, Path(args.out) if args.out else None,
                args.base_model, progress=not args.no_progress)
    print(watch(w, once=args.once, interval=args.interval, init=args.init), end="")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from bolt_eval.training.recipe_file import load_recipe

    recipe = load_recipe(args.recipe, args.overrides)
    module = importlib.import_module(f"bolt_eval.training.{args.stage}")
    extra = {"reference": args.reference} if args.stage in ("pipeline", "ablation") else {}
    print(module.run(recipe, progress=not args.no_progress, **extra))
    return 0
