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
from bolt_eval.generation import chars
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


def judge_records(groups: list[tuple[list[dict[str, Any]], list[tuple[int, int, str, JudgePrompt]]]], judge: Judge,
                  progress: Any = None) -> list[Judged]:
    """Answer every group's `calls` (from `prompts_for`; a group is one run's records) in one
    pass of the judge, so a local judge fills its batches across tasks, and attach each
    group's results to copies of its records."""
    prompts = [p for _, calls in groups for *_, p in calls]
    keys = sorted({judge.key(p) for p in prompts})
    before = {k: e.attempts for k, e in judge.ledger.get(keys).items()}
    order = sorted(range(len(prompts)), key=lambda i: chars(prompts[i].messages))  # batches of alike lengths
    entries: list[Any] = [None] * len(prompts)
    for i, e in zip(order, judge.run([prompts[i] for i in order], progress)):
        entries[i] = e
    out, at = [], 0
    for records, calls in groups:
        mine = entries[at:at + len(calls)]
        out.append(_attach(records, calls, mine, before, judge.constrain))
        before.update({e.key: e.attempts for e in mine})  # a judgment two runs share: its calls count for the first
        at += len(calls)
    return out


def _attach(records: list[dict[str, Any]], calls: list[tuple[int, int, str, JudgePrompt]], entries: list[Any],
            before: dict[str, int], constrain: bool) -> Judged:
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
    methods = Counter(e.method for e in entries if e.status == "ok")
    if constrain or methods["constrained"]:  # how many verdicts were constrained, also those a
        # judge with constrained verdicts off found in the ledger, stored by one with them on
        coverage["by_method"] = {m: methods[m] for m in ("free", "constrained")}
    return Judged(
        records=out,
        coverage=coverage,
        tokens={"prompt": sum(e.prompt_tokens for e in counted),
                "completion": sum(e.completion_tokens for e in counted),
                "calls": sum(e.attempts for e in counted)},
        calls_made=sum(e.attempts - before.get(e.key, 0) for e in counted),  # each call made adds an attempt
    )
