"""Asking the candidate: one chunk of samples through a backend, turn by turn, and the
record each sample leaves in samples.jsonl (response, thoughts, solution, tokens, score)."""

from __future__ import annotations

from typing import Any

from bolt_eval.benchmarks.base import Task
from bolt_eval.thoughts import split_response
from bolt_eval.types import Completion, Message, Request, Sample, SamplingParams


def generate_chunk(chunk: list[Sample], task: Task, backend: Any, base: SamplingParams,
                    advance: Any) -> list[list[list[tuple[str, Completion]]]]:
    """Each sample -> n trajectories -> per turn (user prompt, completion). Turn t+1 is
    asked after the model's own answer to turn t, trajectory by trajectory."""
    params = [task.sampling(s, base) for s in chunk]
    trajs: list[list[list[tuple[str, Completion]]]] = [[[] for _ in range(p.n)] for p in params]
    for turn in range(max(len(s.turns) for s in chunk)):
        requests, slots = [], []
        for i, s in enumerate(chunk):
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
