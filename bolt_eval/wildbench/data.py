"""WildBench v2 data: the official tasks and reference answers, or a local copy (--data).

Official: `allenai/WildBench`, config `v2`, split `test` (1024 tasks), and the reference
models' answers from `allenai/WildBench-V2-Model-Outputs` (one config per model, split
`train`, field `output`), joined by `session_id` (HELM's wildbench_scenario reads the same
sets). A local copy holds rows in the same schema with the references attached as
`reference_outputs: {model: answer}` (what the official loader builds).

History and query as the official judge sees them (src/eval.py `compose_eval_item`): every
turn but the last as "USER: ...\\n\\n" / "ASSISTANT: ...\\n\\n", and the last user turn; long
fields cut to their first 1000 words (`shorten`, `--max_words_to_eval 1000` in
evaluation/run_eval_v2_batch*.sh).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from bolt_eval.jsonl import field
from bolt_eval.types import Sample, UserError
from bolt_eval.wildbench.scoring import TASK_GROUP, groups_of

DATASET, CONFIG, SPLIT = "allenai/WildBench", "v2", "test"
OUTPUTS = "allenai/WildBench-V2-Model-Outputs"
# No revision of either dataset is published as the one the leaderboard used: the default
# branch is read, and the manifest pins what was read by the sha256 of its rows.
REVISION = None
REFERENCE_MODELS = ("gpt-4-turbo-2024-04-09", "claude-3-haiku-20240307", "Llama-2-70b-chat-hf")
MAX_WORDS = 1000
EMPTY = "[This model response is empty.]"

# Generation: a single user message. The runner sends a sample's turns one by one after the
# model's own answers, so an earlier conversation (its assistant turns written by someone
# else) is given inside the message, in the judge's own transcript form.
def shorten(text: str, k: int = MAX_WORDS) -> str:
    """The official truncation: more than k space-separated words -> the first k + '... (truncated)'."""
    if k > 0 and len(text.split(" ")) > k:
        return " ".join(text.split(" ")[:k]) + "... (truncated)"
    return text


def history_text(conversation: list[dict[str, str]]) -> str:
    out = ""
    for turn in conversation[:-1]:
        out += ("USER: " if turn["role"] == "user" else "ASSISTANT: ") + turn["content"] + "\n\n"
    return out


def checklist_markdown(checklist: list[str]) -> str:
    return "".join(f"- {item}\n" for item in checklist)


def official_rows() -> tuple[list[tuple[str, dict[str, Any]]], str, str]:
    """(rows, source, sha256) from the hub, references attached; a UserError naming --data."""
    try:
        from datasets import load_dataset

        bench = load_dataset(DATASET, CONFIG, split=SPLIT, revision=REVISION)
        refs = {}
        for model in REFERENCE_MODELS:
            outs = load_dataset(OUTPUTS, model, split="train", revision=REVISION)
            refs[model] = {r["session_id"]: (r["output"][0] if isinstance(r["output"], list) else r["output"])
                           for r in outs}
    except Exception as err:  # the hub client raises many kinds; all mean "not here"
        raise UserError(
            f"WildBench data: {DATASET} ({CONFIG}) or {OUTPUTS} could not be loaded ({type(err).__name__}: "
            f"{err}). Pass --data FILE.jsonl: rows in the WildBench v2 schema (session_id, conversation_input, "
            "checklist, primary_tag, secondary_tags) with reference_outputs {model: answer}") from err
    rows = []
    for i, row in enumerate(bench):
        row = dict(row)
        row["reference_outputs"] = {m: refs[m].get(row["session_id"], "") for m in REFERENCE_MODELS}
        rows.append((f"{DATASET}:{CONFIG}/{SPLIT} row {i}", row))
    digest = hashlib.sha256(json.dumps([r for _, r in rows], sort_keys=True, default=str).encode()).hexdigest()
    return rows, f"hub:{DATASET}@{CONFIG}+{OUTPUTS}", digest


def to_sample(row: dict[str, Any], place: str) -> Sample:
    """One WildBench v2 row -> Sample; every error names the place and the field."""
    sid = str(field(row, "session_id", (str, int), place))
    conv = field(row, "conversation_input", list, place)
    if not conv:
        raise UserError(f"{place}: field 'conversation_input' is empty; it needs at least the user's message")
    for n, turn in enumerate(conv):
        if not (isinstance(turn, dict) and turn.get("role") in ("user", "assistant")
                and isinstance(turn.get("content"), str)):
            raise UserError(f"{place}: field 'conversation_input' item {n}: needs role 'user' or 'assistant' "
                            "and a string 'content'")
    if conv[-1]["role"] != "user" or not conv[-1]["content"].strip():
        raise UserError(f"{place}: field 'conversation_input' must end with a non-empty user message")
    checklist = field(row, "checklist", list, place)
    if not checklist or not all(isinstance(c, str) and c.strip() for c in checklist):
        raise UserError(f"{place}: field 'checklist' must be a non-empty list of strings")
    primary = field(row, "primary_tag", str, place)
    secondary = field(row, "secondary_tags", list, place)
    for name, tag in [("primary_tag", primary)] + [("secondary_tags", t) for t in secondary]:
        if tag not in TASK_GROUP:
            raise UserError(f"{place}: field '{name}': unknown tag {tag!r}; known: {', '.join(TASK_GROUP)}")
    refs = row.get("reference_outputs", {})
    if not (isinstance(refs, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in refs.items())):
        raise UserError(f"{place}: field 'reference_outputs' must map reference model names to answers (strings)")
    history, query = history_text(conv), conv[-1]["content"]
    earlier = tuple({"role": t["role"], "content": t["content"]} for t in conv[:-1])
    return Sample(sid, (query,), history=earlier, reference={
        "history": history, "user_query": query, "checklist": list(checklist),
        "primary_tag": primary, "secondary_tags": list(secondary), "groups": list(groups_of(primary, secondary)),
        "references": dict(sorted(refs.items())),
    })
