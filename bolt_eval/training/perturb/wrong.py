"""wrong-answers: long-CoT traces whose final answer is wrong, in place of correct ones
(Li et al., arXiv 2502.07374, section 4.1).

The pool is one of two files, told apart by the first line:
  - what BOLT's stage 1 writes, `<output_dir>/bootstrap/pool.jsonl`: every sampled response
    with its format verdict and reward parts (bolt_eval/training/bootstrap.py). A response
    is wrong when it passed the format rules and a verifier component of the reward
    (rewards/verifier.py: 1.0 = solved) gave it less than 1.0; the stage's `manifest.json`
    says which reward parts are verifiers, and the prompt text of each query comes from the
    curated `<output_dir>/queries/queries.jsonl`;
  - chat rows of one's own sampled traces, as the SFT set, each with the verifier's verdict:
    {"messages": [..., {"role": "user", ...}, {"role": "assistant", ...}], "correct": false}.
Rows are matched to pool entries by the prompt text (the last user message before the
assistant turn, white space at both ends ignored).

With probability = ratio a row's assistant turn is replaced by one of its prompt's wrong
traces (a seeded choice), written as stage 1 writes SFT rows (`join_response`). A row whose
prompt has no wrong trace is skipped with that reason.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from bolt_eval.jsonl import field, read_jsonl
from bolt_eval.thoughts import Delimiters, join_response, split_response
from bolt_eval.training.perturb.rows import Context, Outcome, Turn, read_turn
from bolt_eval.types import UserError


def load_pool(path: Path) -> list[dict[str, Any]]:
    """A pool file as entries {"prompt", "response", "correct"}: chat rows with a 'correct'
    verdict when its first line has 'messages', else stage 1's pool.jsonl."""
    first = next(read_jsonl(path))[1]
    return _chat_pool(path) if "messages" in first else _stage1_pool(path)


def _chat_pool(path: Path) -> list[dict[str, Any]]:
    """{"messages": [..., user, assistant], "correct": true | false}: the last assistant turn is
    the trace, the last user message before it the prompt."""
    entries = []
    for place, row in read_jsonl(path):
        turn = read_turn(row, place, None, "none")
        correct = field(row, "correct", bool, place)
        prompt = prompt_of(row, turn)
        if prompt is None:
            raise UserError(f"{place}: no user message before the assistant turn; the pool is matched by prompt")
        entries.append({"prompt": prompt, "response": turn.text, "correct": correct})
    return entries


def _stage1_pool(path: Path) -> list[dict[str, Any]]:
    """Stage 1's pool.jsonl; only responses that passed the format rules and have a verifier
    reward are entries."""
    from bolt_eval.training.sources import read_query_file

    manifest_path = path.parent / "manifest.json"
    queries_path = path.parent.parent / "queries" / "queries.jsonl"
    fix = ("--pool takes stage 1's <output_dir>/bootstrap/pool.jsonl (beside its manifest.json and ../queries/) "
           "or chat rows with a 'correct' field")
    if not manifest_path.is_file() or not queries_path.is_file():
        missing = manifest_path if not manifest_path.is_file() else queries_path
        raise UserError(f"{path}: {missing} is missing; {fix}")
    try:
        components = json.loads(manifest_path.read_text(encoding="utf-8"))["config"]["reward"]["components"]
    except (json.JSONDecodeError, KeyError, TypeError) as err:
        raise UserError(f"{manifest_path}: no config.reward.components ({err}); {fix}") from err
    verifiers = [c["name"] for c in components if c.get("kind") == "verifier"]
    if not verifiers:
        kinds = ", ".join(sorted({str(c.get("kind")) for c in components}))
        raise UserError(f"{manifest_path}: the stage's reward has no verifier component (kinds: {kinds}); wrong "
                        "answers need a verifier's verdict: add a 'verifier' reward to the recipe and rerun stage 1")
    prompts = {q.id: q.prompt for q in read_query_file(queries_path)}
    entries = []
    for place, row in read_jsonl(path):
        query = str(field(row, "query", (str, int), place))
        response = field(row, "response", str, place)
        if query not in prompts:
            raise UserError(f"{place}: query {query!r} is not in {queries_path}; the pool and the queries "
                            "must come from the same output_dir")
        parts = row.get("reward_parts") or {}
        values = [parts.get(name) for name in verifiers]
        if not row.get("format_ok") or any(v is None for v in values):
            continue
        entries.append({"prompt": prompts[query], "response": response, "correct": all(v >= 1.0 for v in values)})
    return entries


def wrong_traces(pool: list[dict[str, Any]], delims: Delimiters | None) -> tuple[dict[str, list[str]], int]:
    """prompt text -> its wrong traces, each as stage 1 writes a response into the SFT set;
    and how many wrong entries were dropped because their thoughts are missing or open."""
    by_prompt: dict[str, list[str]] = {}
    unusable = 0
    for n, entry in enumerate(pool):
        if not isinstance(entry, dict) or not isinstance(entry.get("prompt"), str) \
                or not isinstance(entry.get("response"), str) or not isinstance(entry.get("correct"), bool):
            raise UserError(f"pool entry {n}: needs 'prompt' and 'response' (strings) and 'correct' (true/false)")
        if entry["correct"]:
            continue
        text = entry["response"]
        if delims is not None:
            split = split_response(text, delims)
            if split.thoughts is None or not split.thoughts_closed:
                unusable += 1
                continue
            text = join_response(split.thoughts, split.solution, delims)
        by_prompt.setdefault(entry["prompt"].strip(), []).append(text)
    return by_prompt, unusable


def prompt_of(row: dict[str, Any], turn: Turn) -> str | None:
    """The last user message before the perturbed turn, stripped."""
    users = [m["content"] for m in row["messages"][:turn.index] if m["role"] == "user"]
    return users[-1].strip() if users else None


def wrong_answers(turn: Turn, rng: random.Random, ratio: float, ctx: Context) -> Outcome:
    if not ctx.wrong:
        return Outcome(skip="no wrong trace in the pool for this prompt")
    draw, pick = rng.random(), rng.randrange(len(ctx.wrong))
    if draw >= ratio:
        return Outcome(turn.text, counts={"eligible": 1})
    return Outcome(ctx.wrong[pick], counts={"eligible": 1, "replaced": 1})
