"""Asking the candidate: the samples every task's run lacks, through one backend, turn by
turn, and the record each sample leaves in samples.jsonl (response, thoughts, solution,
tokens, score).

The tasks' samples are pooled into chunks, the tasks ordered by their median prompt length
and each task's samples in data order, so a local engine fills its batches across tasks
with prompts alike in length: on 2 CPU cores a decoding step of the 135M default model
costs about the same for 4 and for 16 short sequences, but a batch is padded to its longest
prompt (docs/performance.md). Every finished sample is appended to its own run at once; a
killed run loses at most the chunk in flight.
"""

from __future__ import annotations

import statistics
from typing import Any

from bolt_eval.benchmarks.base import Task
from bolt_eval.progress import progress_bar
from bolt_eval.thoughts import split_response
from bolt_eval.types import Completion, Message, Request, Sample, SamplingParams


def generate_missing(plans: list[Any], runs: list[Any], backend: Any, cfg: Any, delims: Any, budget: Any,
                     meter: Any) -> list[str]:
    """Generate and store the samples each run (of runner.Plan `plans`) lacks, the tasks
    pooled; returns one error message per run with failed samples (marked `incomplete` in
    its manifest), else nothing."""
    pending = [(p, run, [s for s in p.samples if s.id not in run.records]) for p, run in zip(plans, runs)]
    # tasks by their median prompt length, so a batch holds prompts alike in length; each run's samples in data order
    pending.sort(key=lambda e: statistics.median([chars(messages(s, [], e[0].task.prompt(s, 0))) for s in e[2]] or [0]))
    todo = [(p, run, s) for p, run, missing in pending for s in missing]
    failed: dict[int, list[str]] = {}
    bar = progress_bar(sum(len(s.turns) for *_, s in todo), "answers", cfg.progress)
    size = cfg.chunk or cfg.backend.chunk_size
    for start in range(0, len(todo), size):
        if budget.exhausted:
            break
        chunk = todo[start:start + size]
        for _, run, _ in chunk:
            if "provenance" not in run.manifest:  # every run that generates, not only the first
                run.manifest["provenance"] = backend.get().describe()
        outputs = generate_chunk([(s, p.task) for p, _, s in chunk], backend.get(), cfg.sampling, bar.update)
        for c in (c for traj in (t for o in outputs for t in o) for _, c in traj):
            budget.charge(meter, c.prompt_tokens, c.completion_tokens)
        for (p, run, sample), trajectories in zip(chunk, outputs):
            errors = [c.error for traj in trajectories for _, c in traj if c.error]
            if errors:
                failed.setdefault(id(run), []).append(f"{sample.id}: {errors[0]}")
                continue
            run.append(record(sample, trajectories, p.task, delims))
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


def generate_chunk(chunk: list[tuple[Sample, Task]], backend: Any, base: SamplingParams,
                   advance: Any) -> list[list[list[tuple[str, Completion]]]]:
    """Each (sample, its task) -> n trajectories -> per turn (user prompt, completion). Turn
    t+1 is asked after the model's own answer to turn t, trajectory by trajectory."""
    params = [task.sampling(s, base) for s, task in chunk]
    trajs: list[list[list[tuple[str, Completion]]]] = [[[] for _ in range(p.n)] for p in params]
    for turn in range(max(len(s.turns) for s, _ in chunk)):
        requests, slots = [], []
        for i, (s, task) in enumerate(chunk):
            if turn >= len(s.turns):
                continue
            prompt = task.prompt(s, turn)
            if turn == 0:  # one request, n samples
                requests.append(Request(s.id, 0, messages(s, [], prompt), params[i]))
                slots.append((i, None))
            else:
                for k, traj in enumerate(trajs[i]):
                    if traj[-1][1].error:
                        continue
                    requests.append(Request(s.id, turn, messages(s, traj, prompt),
                                            params[i].with_(n=1, seed=params[i].seed + k)))
                    slots.append((i, k))
        outs = backend.generate(requests, progress=advance) if requests else []
        for (i, k), req, completions in zip(slots, requests, outs):
            prompt = req.messages[-1]["content"]
            targets = range(len(trajs[i])) if k is None else [k]
            for kk, c in zip(targets, completions):
                trajs[i][kk].append((prompt, c))
    return trajs


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
