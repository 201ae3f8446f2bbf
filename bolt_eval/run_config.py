"""From `bolt-eval run` flags (and the suite they name) to the EvalConfig the runner takes.

Flags override the suite; engine options, judge settings and task options are checked
here, so a mistyped flag fails before anything is loaded."""

from __future__ import annotations

import argparse
from typing import Any

from bolt_eval.backends.base import BackendSpec
from bolt_eval.best_of import from_args
from bolt_eval.judging import noise
from bolt_eval.judging.batch_cli import settings_from_args as batch_settings
from bolt_eval.runner import EvalConfig, TaskSpec
from bolt_eval.types import SamplingParams, UserError


def eval_config(args: argparse.Namespace) -> EvalConfig:
    tasks, suite_sampling, suite = task_specs(args)
    sampling: dict[str, Any] = {**suite_sampling}
    for key in ("temperature", "top_p", "max_new_tokens"):
        if getattr(args, key) is not None:
            sampling[key] = getattr(args, key)
    if args.stop:
        sampling["stop"] = tuple(args.stop)
    if "stop" in sampling:
        sampling["stop"] = tuple(sampling["stop"])
    best_of = from_args(args, sampling)  # before SamplingParams: Best-of-N's default temperature
    backend = BackendSpec(
        backend=args.backend, model=args.model, revision=args.revision, base_url=args.base_url,
        api_key_env=args.api_key_env, api_key_file=args.api_key_file, batch_size=batch_size(args, args.backend),
        concurrency=args.concurrency,
        timeout_s=args.timeout, max_retries=args.max_retries, device=args.device, dtype=args.dtype,
        trust_remote_code=args.trust_remote_code, context_policy=args.context_policy,
        options=engine_options(args, args.backend, args.engine_option),
    )
    return EvalConfig(
        tasks=tasks, backend=backend,
        sampling=SamplingParams(seed=args.seed, n=args.n, **sampling),
        thoughts=args.thoughts, out=args.out, label=args.label, progress=not args.no_progress,
        judge=judge_spec(args, suite), budget_usd=args.budget, prices=args.prices, judge_noise=noise.from_args(args),
        max_judge_failures=first(args.max_judge_failures, suite.max_judge_failures if suite else None, 0.0),
        best_of=best_of, batch=batch_settings(args),
    )


def batch_size(args: argparse.Namespace, backend: str) -> int:
    return args.batch_size or (256 if backend == "vllm" else 16)


def engine_options(args: argparse.Namespace, backend: str, pairs: list[str]) -> dict[str, Any]:
    """KEY=VALUE flags as typed values (YAML scalars: 2, 0.85, true, ray)."""
    import yaml

    if pairs and backend not in ("vllm", "vllm-serve"):
        raise UserError(f"--engine-option {pairs[0]}: engine options apply to the vllm and vllm-serve "
                        f"backends, not {backend}")
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.isidentifier():
            raise UserError(f"--engine-option {pair}: write KEY=VALUE, e.g. tensor_parallel_size=2")
        options[key] = yaml.safe_load(value)
    if backend == "vllm-serve":
        options["serve_timeout_s"] = args.serve_timeout
    return options


def first(*values: Any) -> Any:
    return next(v for v in values if v is not None)


def judge_spec(args: argparse.Namespace, suite: Any) -> Any:
    """The judge the flags (or the suite) ask for; None means each task's official judge."""
    from pathlib import Path

    from bolt_eval.judging.judge import JudgeSpec
    from_suite = suite.judge if suite and suite.judge else None
    model = args.judge_model or (from_suite.model if from_suite else None)
    if model is None:
        if args.judge_base_url or args.judge_backend:
            raise UserError("--judge-base-url and --judge-backend need --judge-model (the judge's model name)")
        if args.judge_expected_score:
            raise UserError("--judge-expected-score needs a local judge's likelihoods; the official judges are API "
                            "models: add --judge-model default (or a checkpoint) with --judge-backend hf or vllm")
        return None
    local = model == "default" or Path(model).expanduser().exists()
    backend = args.judge_backend or (from_suite.backend if from_suite else None) or ("hf" if local else "openai")
    return JudgeSpec(
        BackendSpec(backend, model, base_url=args.judge_base_url, api_key_env=args.judge_api_key_env,
                    api_key_file=args.judge_api_key_file,
                    concurrency=args.judge_concurrency, batch_size=batch_size(args, backend), timeout_s=args.timeout,
                    max_retries=args.max_retries, device=args.device, dtype=args.dtype,
                    options=engine_options(args, backend, args.judge_engine_option)),
        params=SamplingParams(temperature=0.0, max_new_tokens=first(
            args.judge_max_new_tokens, from_suite.max_new_tokens if from_suite else None, 2048)),
        parse_retries=first(args.judge_parse_retries, from_suite.parse_retries if from_suite else None, 2),
        constrained=not args.judge_free_verdicts, expected_score=args.judge_expected_score,
    )


def task_specs(args: argparse.Namespace) -> tuple[list[Any], dict[str, Any], Any]:
    from bolt_eval.suites import load_suite
    if bool(args.tasks) == bool(args.suite):
        raise UserError("give exactly one of --tasks NAME[,NAME...] or --suite NAME")
    if args.suite:
        suite = load_suite(args.suite)
        specs = [TaskSpec(t.name, t.data, t.limit, dict(t.options)) for t in suite.tasks]
        sampling = dict(suite.sampling)
    else:
        suite = None
        specs = [TaskSpec(n.strip()) for n in args.tasks.split(",") if n.strip()]
        sampling = {}
    data = data_map(args.data, [s.name for s in specs])
    flags = {k: getattr(args, k) for k in TASK_OPTION_FLAGS if getattr(args, k) not in (None, False)}
    out = []
    for s in specs:
        accepted = benchmarks_options(s.name)
        out.append(TaskSpec(s.name, data.get(s.name, s.data), args.limit or s.limit,
                            {**s.options, **{k: v for k, v in flags.items() if k in accepted}}))
    unused = sorted(k for k in flags if not any(k in benchmarks_options(s.name) for s in specs))
    if unused:
        raise UserError(f"--{unused[0].replace('_', '-')} applies to none of the selected tasks")
    return out, sampling, suite


TASK_OPTION_FLAGS = ("baseline_answers", "style", "style_tokenizer", "freeze_style", "bootstrap_rounds", "cluster_bootstrap",
                     "arena_parser", "lm_eval_include")


def benchmarks_options(name: str) -> tuple[str, ...]:
    from bolt_eval.registry import benchmarks

    if name.startswith("lm-eval:"):  # an lm-eval task (bolt_eval/lmeval/run.py)
        from bolt_eval.lmeval.run import OPTIONS
        return OPTIONS
    return benchmarks.get(name).OPTIONS


def data_map(values: list[str], names: list[str]) -> dict[str, str]:
    out = {}
    for v in values:
        name, sep, path = v.partition("=")
        if not sep:
            if len(names) != 1:
                raise UserError(f"--data {v}: several tasks are selected; write --data TASK=FILE")
            name, path = names[0], v
        if name not in names:
            raise UserError(f"--data {v}: task {name!r} is not among the selected tasks ({', '.join(names)})")
        out[name] = path
    return out
