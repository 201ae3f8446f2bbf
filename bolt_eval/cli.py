"""`bolt-eval` command line: argument parsing only.

Everything heavy (torch, transformers, datasets) is imported inside the command
functions, so `bolt-eval --help` starts instantly.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from typing import Any

from bolt_eval import __version__


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="bolt-eval", description="Evaluate long-CoT checkpoints.")
    p.add_argument("--version", action="version", version=f"bolt-eval {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="evaluate a model on tasks or a suite and print a table",
                         formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    what = run.add_argument_group("what to evaluate")
    what.add_argument("--model", required=True,
                      help="'default' (embedded SmolLM2-135M-Instruct), a checkpoint folder, a .gguf "
                           "file, a hub id org/name, an API model name, or answers.jsonl for replay")
    what.add_argument("--revision", help="hub revision (branch, tag or commit) of --model")
    what.add_argument("--tasks", help="comma-separated task names, e.g. math500")
    what.add_argument("--suite", help="a suite from tasks/suites/, e.g. smoke or bolt")
    what.add_argument("--data", action="append", default=[], metavar="[TASK=]FILE",
                      help="local data file instead of the official source (repeat per task)")
    what.add_argument("--limit", type=int, help="first N samples of each task")
    what.add_argument("--out", default="results", help="results root")
    what.add_argument("--label", help="name of the model in run ids and tables")
    what.add_argument("--lm-eval-include", metavar="DIR", help="folder of custom lm-eval task YAMLs for lm-eval:TASK tasks")

    be = run.add_argument_group("backend")
    be.add_argument("--backend", default="hf", help="hf | vllm | vllm-serve (bolt-eval starts `vllm serve`) | openai | replay")
    be.add_argument("--base-url", help="OpenAI-compatible endpoint (openai backend)")
    be.add_argument("--api-key-env", default="OPENAI_API_KEY",
                    help="environment variable holding the API key (never written anywhere)")
    be.add_argument("--api-key-file", help="file holding the API key, instead of the variable (never written anywhere)")
    be.add_argument("--batch-size", type=int,
                    help="prompts per generate call (hf, default 16); prompts handed to the engine at once (vllm, default 256)")
    be.add_argument("--engine-option", action="append", default=[], metavar="KEY=VALUE",
                    help="vllm / vllm-serve engine option, repeatable: tensor_parallel_size=2, max_model_len=8192, "
                         "gpu_memory_utilization=0.85, enforce_eager=true, distributed_executor_backend=ray")
    be.add_argument("--serve-timeout", type=float, default=600.0, help="seconds to wait for `vllm serve` to be healthy")
    be.add_argument("--concurrency", type=int, default=16, help="requests in flight (openai)")
    be.add_argument("--timeout", type=float, default=120.0, help="seconds per request (openai)")
    be.add_argument("--max-retries", type=int, default=6, help="retries per request (openai)")
    be.add_argument("--device", help="cpu | cuda | cuda:N (hf; default: cuda when available)")
    be.add_argument("--dtype", help="float32 | bfloat16 | float16 (hf; default per device)")
    be.add_argument("--trust-remote-code", action="store_true", help="run model code from the hub (off by default)")
    be.add_argument("--context-policy", choices=["fail", "truncate"], default="fail",
                    help="a prompt longer than the model's context: fail the sample, or cut it from the left "
                         "with a warning (hf)")

    sp = run.add_argument_group("sampling")
    sp.add_argument("--temperature", type=float, help="0 = greedy (default 0)")
    sp.add_argument("--top-p", type=float)
    sp.add_argument("--max-new-tokens", type=int, help="default 512, or the suite's")
    sp.add_argument("--stop", action="append", help="stop sequence (repeatable)")
    sp.add_argument("--seed", type=int, default=0)
    sp.add_argument("--n", type=int, default=1, help="samples per prompt")
    sp.add_argument("--thoughts", default="none",
                    help="long-CoT delimiters: bolt | think | sky-t1 | none")
    sp.add_argument("--no-progress", action="store_true", help="hide the progress bar")

    jg = run.add_argument_group("judge (MT-Bench and other judged tasks)")
    jg.add_argument("--judge-model", help="judge model: an API model name, 'default' (the embedded local "
                                          "model) or a checkpoint; default: each task's official judge "
                                          "(MT-Bench: gpt-4). Any other judge is labelled a substitute")
    jg.add_argument("--judge-backend", help="hf | vllm | vllm-serve | openai | replay (default: hf for 'default' "
                                            "and local checkpoints, else openai)")
    jg.add_argument("--judge-engine-option", action="append", default=[], metavar="KEY=VALUE",
                    help="engine option of a vllm / vllm-serve judge (repeatable)")
    jg.add_argument("--judge-base-url", help="OpenAI-compatible endpoint of the judge")
    jg.add_argument("--judge-api-key-env", default="OPENAI_API_KEY", help="environment variable with the judge's API key")
    jg.add_argument("--judge-api-key-file", help="file holding the judge's API key, instead of the variable")
    jg.add_argument("--judge-concurrency", type=int, default=16, help="judge requests in flight")
    jg.add_argument("--judge-max-new-tokens", type=int, help="default 2048, or the suite's")
    jg.add_argument("--judge-parse-retries", type=int,
                    help="fresh judge samples after a reply without a verdict, per run (default 2, or the suite's); "
                         "a local judge instead gets its verdict constrained to the allowed ones")
    jg.add_argument("--judge-free-verdicts", action="store_true",
                    help="a local judge's reply without a verdict is asked again freely, not constrained")
    jg.add_argument("--judge-expected-score", action="store_true",
                    help="also report grades as their expected value over the allowed grades (G-Eval; a local "
                         "hf or vllm judge)")
    jg.add_argument("--max-judge-failures", type=float, metavar="RATE",
                    help="fail the run when more than this share of judgments has no verdict (default 0)")
    jg.add_argument("--budget", type=float, metavar="USD", help="stop cleanly once this much is spent; re-run to continue")
    jg.add_argument("--prices", help="price table (USD per million tokens), default tasks/prices.yaml")
    from bolt_eval.judging.batch_cli import add_arguments as add_batch_arguments

    add_batch_arguments(jg)  # --judge-mode, --batch-poll-interval, --batch-parse-retries, --batch-max-requests, --no-wait
    from bolt_eval.judging.noise import add_arguments as add_noise_arguments

    add_noise_arguments(jg)  # --judge-repeats, --judge-repeat-share
    ah = run.add_argument_group("Arena-Hard")
    ah.add_argument("--baseline-answers", help="baseline answers file(s), comma-separated, instead of the official ones")
    ah.add_argument("--style", choices=["both", "length", "markdown", "none"], help="style control (default both)")
    ah.add_argument("--style-tokenizer", help="length feature tokenizer: tiktoken:o200k_base (default, upstream's), "
                                              "hf:NAME_OR_PATH, default or words")
    ah.add_argument("--freeze-style", metavar="SUMMARY_JSON",
                    help="take the style normalisation and coefficients from a reference run's summary.json")
    ah.add_argument("--bootstrap-rounds", type=int, help="bootstrap rounds of the fit (default 100)")
    ah.add_argument("--cluster-bootstrap", action="store_true", help="resample prompts, not battles")
    ah.add_argument("--arena-parser", choices=["official", "strict"],
                    help="verdicts as arena-hard-auto reads them (default: the last [[label]], any case, reversed "
                         "spellings) or strict (every [[label]] must agree)")
    jg.add_argument("--dry-run", action="store_true",
                    help="print the generations and judge calls still to make, their tokens and cost; call nothing")
    from bolt_eval.best_of import add_arguments as add_best_of_arguments

    add_best_of_arguments(run)
    run.set_defaults(func=cmd_run)

    af = sub.add_parser("arena-fit", help="fit several Arena-Hard runs together against their baseline (one table)")
    af.add_argument("runs", nargs="+", help="run folders (one per checkpoint, each with its own --label)")
    af.add_argument("--style", default="both", choices=["both", "length", "markdown", "none"])
    af.add_argument("--bootstrap-rounds", type=int, default=100)
    af.set_defaults(func=cmd_arena_fit)

    zebra = sub.add_parser("zebra", help="ZebraLogic puzzle tools").add_subparsers(dest="zebra_command", required=True)
    gen = zebra.add_parser("generate", help="write seeded puzzles with proven unique solutions (official schema)")
    gen.add_argument("--sizes", default="all", help="e.g. 2x2,3x4 (houses x attributes, 2..6), or 'all'")
    gen.add_argument("--n", type=int, default=40, help="puzzles per size")
    gen.add_argument("--seed", default="0", help="same seed, same puzzles, on any machine")
    gen.add_argument("--out", required=True, help="JSONL file to write")
    gen.set_defaults(func=cmd_zebra_generate)
    _add_compare_parsers(sub)
    from bolt_eval.lmeval.export import add_export_parser

    add_export_parser(sub)  # export-lm-eval
    from bolt_eval.cli_training import add_training_parsers

    add_training_parsers(sub)
    from bolt_eval.cli_data import add_data_parsers
    add_data_parsers(sub)
    return p


def _add_compare_parsers(sub: Any) -> None:
    cmp = sub.add_parser("compare", help="checkpoints x benchmarks with CIs and paired deltas; plots",
                         formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    cmp.add_argument("runs", nargs="*", metavar="RUN",
                     help="run folders or folders of runs, in row order (default: every finished run under --root)")
    cmp.add_argument("--root", default="results", help="results root searched when no RUN is given")
    cmp.add_argument("--model", help="only models whose label matches this glob, e.g. 'bolt-*'")
    cmp.add_argument("--task", action="append", default=[], help="only this task (repeatable)")
    cmp.add_argument("--suite", help="only runs of this suite's tasks and data, e.g. smoke")
    cmp.add_argument("--rows", help="comma-separated model labels: which rows, in this order")
    cmp.add_argument("--baseline", help="model label the deltas are taken to (default: the first row)")
    cmp.add_argument("--reference", help="show published rows beside yours, e.g. bolt-paper (results/reference/)")
    cmp.add_argument("--allow-mixed", action="store_true",
                     help="compare runs that differ in judge, templates, data, sampling...; cells are marked")
    cmp.add_argument("--allow-best-of-mix", action="store_true",
                     help="put Best-of-N runs (--best-of) beside plain runs of the same model")
    cmp.add_argument("--format", default="terminal", choices=["terminal", "markdown", "csv", "json", "html"])
    cmp.add_argument("--output", "-o", help="write the report here instead of stdout")
    cmp.add_argument("--plots", metavar="DIR", help="also write the plots (PNG and SVG) into DIR")
    cmp.add_argument("--no-breakdowns", action="store_true", help="headline table only")
    cmp.add_argument("--rounds", type=int, default=1000, help="bootstrap rounds of the paired deltas")
    cmp.add_argument("--trajectory", metavar="DIR", help="a training run's output folder (or a watched folder): "
                     "its checkpoints in training order with deltas to init, and the trajectory plot")
    cmp.set_defaults(func=cmd_compare)

    gt = sub.add_parser("gate", help="fail (exit 1) when a candidate regresses against a baseline; 2 on bad input",
                        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    gt.add_argument("--baseline", nargs="+", required=True, metavar="RUN", help="baseline run folders or a folder of runs")
    gt.add_argument("--candidate", nargs="+", required=True, metavar="RUN", help="candidate run folders or a folder of runs")
    gt.add_argument("--config", help="gate.yaml: margins, rules and coverage floors per benchmark")
    gt.add_argument("--junit", metavar="FILE", help="also write JUnit XML here")
    gt.add_argument("--summary", metavar="FILE", help="also write the markdown summary here (a PR comment)")
    gt.set_defaults(func=cmd_gate)


def cmd_compare(args: argparse.Namespace) -> int:
    from pathlib import Path

    from bolt_eval.comparing import Filters, collect_runs
    from bolt_eval.comparing import render
    from bolt_eval.comparing.reference import load_reference
    from bolt_eval.comparing.table import compare
    from bolt_eval.store import write_atomic

    rows = [r.strip() for r in args.rows.split(",") if r.strip()] if args.rows else None
    reference = load_reference(args.reference) if args.reference else None
    if args.trajectory:
        from bolt_eval.comparing.trajectory import trajectory_comparison
        from bolt_eval.types import UserError

        if args.runs or args.model or args.task or args.suite or args.rows or args.baseline or args.reference:
            raise UserError("--trajectory DIR takes the trajectory's checkpoints in training order with init as "
                            "the baseline; drop RUN folders, --model, --task, --suite, --rows, --baseline, --reference")
        result, runs = trajectory_comparison(args.trajectory, args.allow_mixed, args.rounds, reference)
    else:
        runs, notes = collect_runs(args.runs, args.root, Filters(args.model, tuple(args.task), args.suite), rows)
        result = compare(runs, args.baseline, args.allow_mixed, reference, rounds=args.rounds,
                         allow_best_of_mix=args.allow_best_of_mix)
        result.notes += notes
    adoption = [(r.label, r.task, r.summary.get("adoption")) for r in runs]
    if args.plots:
        from bolt_eval.plots import save_all

        for path in save_all(result, args.plots):
            print(f"bolt-eval: wrote {path}", file=sys.stderr)
    if args.format == "html":
        from bolt_eval.adoption import cell
        from bolt_eval.plots import figures, to_bytes

        result.notes += [f"format adoption, {lb} on {t}: {cell(a)}" for lb, t, a in adoption if a]
        text = render.to_html(result, [(title, "image/png", to_bytes(fig, "png")) for _, title, fig in figures(result)])
    elif args.format == "csv":
        text = render.to_csv(result)
    elif args.format == "json":
        text = render.to_json(result)
    else:
        from bolt_eval.adoption import table

        text = render.to_text(result, args.format, breakdowns=not args.no_breakdowns)
        if adopted := table(adoption, "github" if args.format == "markdown" else "simple"):
            text += f"\n{adopted}\n"
    if args.output:
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        write_atomic(Path(args.output), text)
        print(f"bolt-eval: wrote {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def cmd_gate(args: argparse.Namespace) -> int:
    from pathlib import Path

    from bolt_eval.gate import gate, load_config, to_junit, to_markdown
    from bolt_eval.store import write_atomic

    result = gate(args.baseline, args.candidate, load_config(args.config))
    summary = to_markdown(result)
    sys.stdout.write(summary)
    for path, text in ((args.summary, summary), (args.junit, to_junit(result) if args.junit else "")):
        if path:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            write_atomic(Path(path), text)
    return result.exit_code


def cmd_arena_fit(args: argparse.Namespace) -> int:
    from pathlib import Path

    from bolt_eval.arena.joint import joint_table

    print(joint_table([Path(r) for r in args.runs], args.style, args.bootstrap_rounds))
    return 0


def cmd_zebra_generate(args: argparse.Namespace) -> int:
    from pathlib import Path

    from bolt_eval.store import write_atomic
    from bolt_eval.types import UserError
    from bolt_eval.zebra.generator import generate_set

    sizes = _zebra_sizes(args.sizes)
    if args.n < 1:
        raise UserError(f"--n must be at least 1, got {args.n}")
    puzzles = generate_set(sizes, args.n, args.seed)
    write_atomic(Path(args.out), "".join(json.dumps(p.to_record()) + "\n" for p in puzzles))
    print(f"wrote {len(puzzles)} puzzles ({len(sizes)} sizes x {args.n}, seed {args.seed}) to {args.out}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from bolt_eval.report import results_table
    from bolt_eval.run_config import eval_config
    from bolt_eval.runner import evaluate

    cfg = eval_config(args)
    if args.dry_run:
        from bolt_eval.dryrun import dry_run

        print(dry_run(cfg))
        return 0
    results = evaluate(cfg)
    print(results_table(results))
    if cfg.best_of:
        from bolt_eval.best_of import pass_table

        print(pass_table(results))
    failed = [r for r in results if not r.ok]
    for r in failed:
        cov = r.summary.get("coverage", {})
        print(f"bolt-eval: error: {r.task}: {r.manifest['status']}: {cov.get('judged')} of {cov.get('total')} "
              f"judgments have a verdict ({cov.get('by_status')}), worse than --max-judge-failures "
              f"{cfg.max_judge_failures}. Failures stay in the ledger; re-run to ask again", file=sys.stderr)
    return 2 if failed else 0


def _zebra_sizes(text: str) -> list[tuple[int, int]]:
    from bolt_eval.types import UserError

    if text == "all":
        return [(n, m) for n in range(2, 7) for m in range(2, 7)]
    sizes = []
    for part in text.lower().split(","):
        n, _, m = part.partition("x")
        if not (n.isdigit() and m.isdigit() and 2 <= int(n) <= 6 and 2 <= int(m) <= 6):
            raise UserError(f"--sizes {text}: write sizes as NxM with N and M in 2..6, e.g. 2x2,3x4")
        sizes.append((int(n), int(m)))
    return sizes


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    from bolt_eval.types import UserError

    args = build_parser().parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)  # a `kill` cleans up (managed servers) like Ctrl-C
    try:
        return args.func(args)
    except UserError as err:
        print(f"bolt-eval: error: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("bolt-eval: interrupted; finished samples are saved, re-run to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
