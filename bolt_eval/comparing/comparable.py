"""When two runs of one task may share a column: same task version, data, prompt template,
sampling, long-CoT split and judge. Only the candidate model may differ.

Machine-local details are left out of the comparison: the data file's path (its sha256
decides) and a local judge's folder (its weight hash decides), so a baseline committed on
one machine compares with a run made on another.
"""

from __future__ import annotations

import json
from typing import Any

from bolt_eval.comparing.best_of_mix import comparable_config, decoding_problems, is_best_of
from bolt_eval.comparing.runs import RunData
from bolt_eval.judging.constrained import method_note

# (dotted field of manifest["config"], what a reader calls it)
FIELDS = (
    ("task_version", "task version"),
    ("data.sha256", "data hash"),
    ("prompt_template_sha256", "prompt template"),
    ("sampling", "sampling params"),
    ("thoughts", "thoughts preset"),
    ("task_options", "task settings"),
    ("judge.model", "judge"),
    ("judge.templates", "judge templates"),
    ("judge.template_source", "judge template source"),
    ("judge.parsers", "verdict parsers"),
    ("judge.sampling", "judge sampling params"),
    ("judge.verdicts", "how verdicts are obtained (free, or constrained)"),
)


def _get(config: dict[str, Any], dotted: str) -> Any:
    value: Any = config
    for part in dotted.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return _portable(value)


def _task_settings(task: str, config: dict[str, Any]) -> dict[str, Any] | None:
    """The task's own settings as they take effect (`Task.settings`: Arena-Hard's style,
    bootstrap rounds, ...), so `--style none` and the default `both` never share a column."""
    if task.startswith("lm-eval:"):  # lm-eval's settings are its config, compared above
        return None
    from bolt_eval.registry import benchmarks

    return benchmarks.get(task)(**(config.get("task_options") or {})).settings()


def _portable(value: Any) -> Any:
    """Drop `location` where a weight hash identifies the model (a cache path differs per machine)."""
    if isinstance(value, dict):
        return {k: _portable(v) for k, v in value.items()
                if not (k == "location" and "weights_sha256" in value)}
    if isinstance(value, list):
        return [_portable(v) for v in value]
    return value


def _show(value: Any) -> str:
    if isinstance(value, dict) and "model" in value and "backend" in value:  # a backend identity
        model = value["model"]
        if isinstance(model, dict):  # an API name, else a local model by its weight hash
            model = model.get("name") or f"weights {str(model.get('weights_sha256', ''))[:12]}" or model.get("location")
        return f"{value['backend']}:{model}"
    text = json.dumps(value, sort_keys=True) if not isinstance(value, str) else value
    return text if len(text) <= 60 else text[:57] + "..."


def _only_differing(values: list[Any]) -> list[Any]:
    """Plain dicts (sampling params, template hashes) cut to the keys that differ."""
    if not all(isinstance(v, dict) for v in values) or any("backend" in v for v in values):
        return values
    keys = sorted({k for v in values for k in v if len({json.dumps(x.get(k), sort_keys=True) for x in values}) > 1})
    return [{k: v.get(k) for k in keys} for v in values]


def differences(runs: list[RunData]) -> list[str]:
    """One line per field on which runs of the same task disagree, naming which runs
    hold which value; empty when they may share a column."""
    lines = decoding_problems(runs)  # Best-of-N runs differ from plain ones in n, temperature, top_p by design
    with_best_of = any(map(is_best_of, runs))
    for dotted, name in FIELDS:
        groups: dict[str, list[str]] = {}
        for run in runs:
            config = comparable_config(run.manifest.get("config", {}), with_best_of)
            value = _task_settings(run.task, config) if dotted == "task_options" else _get(config, dotted)
            key = json.dumps(value, sort_keys=True)
            groups.setdefault(key, []).append(run.label)
        if len(groups) > 1:
            values = [json.loads(k) for k in groups]
            parts = [f"{_show(v)} ({', '.join(labels)})" for v, labels in zip(_only_differing(values), groups.values())]
            lines.append(f"{name} ({dotted}): " + " vs ".join(parts))
    items = {frozenset(r.values) for r in runs if r.values}
    if len(items) > 1:
        sizes = ", ".join(f"{r.label}: {len(r.values)}" for r in runs)
        lines.append(f"items: the runs answered different samples ({sizes})")
    return lines


def substitute_judge(runs: list[RunData]) -> str | None:
    """The judge of a judged column, marked '(substitute)' when not the official one, and
    with how many of its verdicts were constrained (judging/constrained.py), if any."""
    judges: dict[tuple[str, bool], dict[str, int]] = {}
    for r in runs:
        if r.summary.get("judge"):
            counts = judges.setdefault((r.summary["judge"]["model"], r.summary["judge"]["substitute"]), {})
            for method, n in ((r.summary.get("coverage") or {}).get("by_method") or {}).items():
                counts[method] = counts.get(method, 0) + n
    if not judges:
        return None
    return "; ".join(f"{m}{' (substitute)' if sub else ''}{method_note({'by_method': judges[(m, sub)]})}"
                     for m, sub in sorted(judges))
