"""The judging phase of a run: the task's judge prompts for every stored output, answered
through the ledger, attached to the records, and kept in the run folder.

`<run>/judgments.jsonl` holds, per sample and output, each named judgment's key, status,
verdict and how the verdict was obtained (`method`: free | constrained), and the expected
grade where the judge scored the allowed grades (the raw replies stay in the ledger).
Coverage, the share of judgments with a verdict, and how many of them were constrained,
is computed here for every judged task alike.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from bolt_eval.benchmarks.base import Task
from bolt_eval.judging import constrained
from bolt_eval.judging.judge import Judge, JudgePrompt
from bolt_eval.judging.templates import Template
from bolt_eval.types import Sample


@dataclass(frozen=True)
class Judged:
    records: list[dict[str, Any]]  # the run's records, each output with "judgments"
    coverage: dict[str, Any]
    tokens: dict[str, int]  # judge tokens behind this run's judgments, over all attempts
    calls_made: int  # judge calls this invocation made for this run (0 on a warm re-run)


def prompts_for(task: Task, samples: list[Sample], records: list[dict[str, Any]],
                templates: dict[str, Template]) -> list[tuple[int, int, str, JudgePrompt]]:
    """(record index, output index, name, prompt) for every judge call the run needs."""
    return [(i, k, name, prompt)
            for i, (s, r) in enumerate(zip(samples, records))
            for k, o in enumerate(r["outputs"])
            for name, prompt in task.judge_prompts(s, o, templates).items()]


def judge_records(records: list[dict[str, Any]], calls: list[tuple[int, int, str, JudgePrompt]], judge: Judge,
                  progress: Any = None) -> Judged:
    """Answer `calls` (from `prompts_for`) and attach the results to copies of `records`."""
    before = judge.calls
    entries = judge.run([p for *_, p in calls], progress)
    out = [{**r, "outputs": [{**o, "judgments": {}} for o in r["outputs"]]} for r in records]
    for (i, k, name, _), e in zip(calls, entries):
        public = e.public()
        if (expected := constrained.expected_grade(e.parser, e.choice_logprobs)) is not None:
            public["expected"] = expected
        out[i]["outputs"][k]["judgments"][name] = public
    statuses = Counter(e.status for e in entries)
    counted = {e.key: e for e in entries}.values()  # a judgment shared by two outputs is paid once
    coverage = {"judged": statuses["ok"], "total": len(entries),
                "rate": round(statuses["ok"] / len(entries), 6) if entries else 1.0,
                "by_status": dict(sorted(statuses.items()))}
    if judge.constrain:  # a judge whose verdicts may be constrained says how many were
        methods = Counter(e.method for e in entries if e.status == "ok")
        coverage["by_method"] = {m: methods[m] for m in ("free", "constrained")}
    return Judged(
        records=out,
        coverage=coverage,
        tokens={"prompt": sum(e.prompt_tokens for e in counted),
                "completion": sum(e.completion_tokens for e in counted),
                "calls": sum(e.attempts for e in counted)},
        calls_made=judge.calls - before,
    )
