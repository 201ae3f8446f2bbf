"""Asking the candidate: the samples every task's run lacks, through one backend, turn by
turn, and the record each sample leaves in samples.jsonl (response, thoughts, solution,
tokens, score).

The tasks' samples are pooled into chunks, the tasks ordered by their median prompt length
and each task's samples in data order, so a local engine fills its batches across tasks
with prompts alike in length: on 2 CPU cores a decoding step of the 135M default model
costs about the same for 4 and for 16 short sequences, but a batch is padded to its longest
prompt (docs/performance.md). A multi-turn sample's later turns join the next samples'
first turns. Every finished sample is appended to its own run at once; a killed run loses
at most the samples in flight.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any

from bolt_eval.benchmarks.base import Task
from bolt_eval.progress import progress_bar
from bolt_eval.thoughts import split_response
from bolt_eval.types import Completion, Message, Request, Sample, SamplingParams


def generate_missing(plans: list[Any], runs: list[Any], backend: Any, cfg: Any, delims: Any, budget: Any,
                     meter: Any) -> list[str]:
    """Generate and store the samples each run (of runner.Plan `plans`) lacks, the tasks
    pooled; returns one error message per run with failed samples (marked `incomplete` in
    its manifest), else nothing.

    Each call to the backend asks the first turn of the next chunk of samples and the next
    turn of every sample still in flight from the chunk before: a multi-turn sample's second
    turn goes out with the next chunk's first turns, not in a batch of its own."""
    pending = [(p, run, [s for s in p.samples if s.id not in run.records]) for p, run in zip(plans, runs)]
    # tasks by their median prompt length, so a batch holds prompts alike in length; each run's samples in data order
    pending.sort(key=lambda e: statistics.median([chars(messages(s, [], e[0].task.prompt(s, 0))) for s in e[2]] or [0]))
    todo = [(p, run, s) for p, run, missing in pending for s in missing]
    failed: dict[int, list[str]] = {}
    bar = progress_bar(sum(len(s.turns) for *_, s in todo), "answers", cfg.progress)
    size = cfg.chunk or cfg.backend.chunk_size
    flight: list[tuple[Any, Any, Asking]] = []
    taken = 0
    while True:
        new = [] if budget.exhausted else todo[taken:taken + size]
        for p, run, sample in new:
            if "provenance" not in run.manifest:  # every run that generates, not only the first
                run.manifest["provenance"] = backend.get().describe()
            flight.append((p, run, Asking(sample, p.task, p.task.sampling(sample, cfg.sampling))))
        taken += len(new)
        if not flight:
            break
        for c in ask([a for *_, a in flight], backend.get(), bar.update):
            budget.charge(meter, c.prompt_tokens, c.completion_tokens)
        for p, run, asking in (f for f in flight if f[2].done):
            errors = [c.error for traj in asking.trajs for _, c in traj if c.error]
            if errors:
                failed.setdefault(id(run), []).append(f"{asking.sample.id}: {errors[0]}")
                continue
            run.append(record(asking.sample, asking.trajs, p.task, delims))
        flight = [f for f in flight if not f[2].done]
    bar.close()
    reports = []
    for p, run in zip(plans, runs):
        if not (failures := failed.get(id(run))):
            continue
        run.manifest.update(status="incomplete", failed=len(failures))
        run.write_manifest()
        kept = (f"Finished samples are kept in {run.dir}; re-run the same command to retry the rest" if run.records
                else "Nothing finished; re-run the same command to retry")
        reports.append(f"{p.task.name}: {len(failures)} of {len(p.samples)} samples failed, first: {failures[0]}. "
                       f"{kept}")
    return reports


@dataclass
class Asking:
    """A sample being asked turn by turn: its n trajectories so far, each a list of (user
    prompt, completion). Turn t+1 is asked after the model's own answer to turn t,
    trajectory by trajectory; a trajectory stops at its first failed turn."""

    sample: Sample
    task: Task
    params: SamplingParams
    trajs: list[list[tuple[str, Completion]]] = field(default_factory=list)
    turn: int = 0

    def __post_init__(self) -> None:
        self.trajs = self.trajs or [[] for _ in range(self.params.n)]

    @property
    def done(self) -> bool:
        return self.turn >= len(self.sample.turns) or (self.turn > 0 and all(t[-1][1].error for t in self.trajs))

    def requests(self) -> list[tuple[Request, list[int]]]:
        """This turn's requests, each with the trajectories its completions continue."""
        s, prompt = self.sample, self.task.prompt(self.sample, self.turn)
        if self.turn == 0:  # one request, n samples
            return [(Request(s.id, 0, messages(s, [], prompt), self.params), list(range(len(self.trajs))))]
        return [(Request(s.id, self.turn, messages(s, traj, prompt), self.params.with_(n=1, seed=self.params.seed + k)),
                 [k]) for k, traj in enumerate(self.trajs) if not traj[-1][1].error]


def ask(flight: list[Asking], backend: Any, advance: Any) -> list[Completion]:
    """One call to the backend: the current turn of every sample in `flight`; returns the
    completions it made."""
    asked = [(a, req, targets) for a in flight for req, targets in a.requests()]
    outs = backend.generate([req for _, req, _ in asked], progress=advance) if asked else []
    for (a, req, targets), completions in zip(asked, outs):
        for k, c in zip(targets, completions):
            a.trajs[k].append((req.messages[-1]["content"], c))
    for a in flight:
        a.turn += 1
    return [c for completions in outs for c in completions]


def chars(conversation: tuple[Message, ...]) -> int:
    """A conversation's length in characters: what batches are sorted by, since a batch is
    left-padded to its longest prompt and decodes until its longest answer ends."""
    return sum(len(m["content"]) for m in conversation)


def messages(sample: Sample, history: list[tuple[str, Completion]], prompt: str) -> tuple[Message, ...]:
    msgs: list[Message] = [{"role": "system", "content": sample.system}] if sample.system else []
    msgs += sample.history
    for user, c in history:
        msgs += [{"role": "user", "content": user}, {"role": "assistant", "content": c.text}]
    return tuple(msgs + [{"role": "user", "content": prompt}])


def record(sample: Sample, trajectories: list[list[tuple[str, Completion]]], task: Task, delims: Any) -> dict[str, Any]:
    outputs = []
    for traj in trajectories:
        turns = []
        for prompt, c in traj:
            sp = split_response(c.text, delims)
            turns.append({
                "prompt": prompt, "response": c.text, "thoughts": sp.thoughts,
                "solution": sp.solution, "thoughts_closed": sp.thoughts_closed,
                "finish_reason": c.finish_reason, "prompt_tokens": c.prompt_tokens,
                "completion_tokens": c.completion_tokens, "latency_s": round(c.latency_s, 4),
                **({"prompt_cut": c.prompt_cut} if c.prompt_cut else {}),
            })
        outputs.append({"turns": turns, "score": task.score(sample, [t["solution"] for t in turns])})
    return {"id": sample.id, "outputs": outputs}
