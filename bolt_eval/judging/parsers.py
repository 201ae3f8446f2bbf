"""Verdict parsers: a judge's raw reply -> a verdict, or None when it holds none.

Each parser has a version; the ledger stores which version produced a verdict, so changing
a parser (and its version) re-parses stored replies without calling the judge again.
A parser never guesses: text without a verdict in the official format is no verdict.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Callable


@dataclass(frozen=True)
class Parser:
    name: str
    version: str
    parse: Callable[[str], Any]  # raw reply -> verdict (JSON-able) or None

    @property
    def id(self) -> str:
        return f"{self.name}@{self.version}"


# FastChat llm_judge/common.py: `[[rating]]` first, then `[rating]`; the first match wins.
_RATING = re.compile(r"\[\[(\d+\.?\d*)\]\]")
_RATING_BACKUP = re.compile(r"\[(\d+\.?\d*)\]")


def parse_rating(reply: str) -> float | None:
    """MT-Bench single-answer grade. As the official scorer, plus one check it lacks: a
    value outside 1-10 (a citation like "[2023]") is no verdict rather than a score."""
    match = _RATING.search(reply) or _RATING_BACKUP.search(reply)
    if not match:
        return None
    value = float(match.group(1))
    return value if 1.0 <= value <= 10.0 else None


def parse_pair(reply: str) -> str | None:
    """MT-Bench pairwise (FastChat's pair-v2 prompts): "[[A]]", "[[B]]" or "[[C]]" (a tie),
    checked in that order as FastChat does. Returns "A", "B" or "tie"."""
    for mark, verdict in (("[[A]]", "A"), ("[[B]]", "B"), ("[[C]]", "tie")):
        if mark in reply:
            return verdict
    return None


# arena-hard-auto at 196f6b8 (lmarena/arena-hard-auto, 2025-06-20): gen_judgment.py `get_score`
# tries the config's `regex_patterns` in order (config/arena-hard-v0.1.yaml and v2.0.yaml:
# "\[\[([AB<>=]+)\]\]" then "\[([AB<>=]+)\]") on the upper-cased reply, and the first pattern
# with a non-empty match gives its *last* match; show_result.py `label_to_score` reads ten
# spellings, the reversed ones ("A<<B", "B<A", "B=A"...) meaning the same verdicts.
_ARENA_PATTERNS = (re.compile(r"\[\[([AB<>=]+)\]\]"), re.compile(r"\[([AB<>=]+)\]"))
ARENA_LABELS = ("A>>B", "A>B", "A=B", "B>A", "B>>A")
_ARENA_SPELLINGS = {**{label: label for label in ARENA_LABELS},
                    "A<<B": "B>>A", "A<B": "B>A", "B=A": "A=B", "B<A": "A>B", "B<<A": "A>>B"}


def parse_arena(reply: str) -> str | None:
    """Arena-Hard, as arena-hard-auto's current code reads a verdict: case-insensitive, the
    last "[[label]]" (or, when there is none, the last "[label]"), reversed spellings
    mapped to the five labels. Where upstream would fail (a last match outside its ten
    labels, e.g. "[[A]]": a KeyError in show_result.py), this is no verdict."""
    upper = reply.upper()
    for pattern in _ARENA_PATTERNS:
        found = pattern.findall(upper)
        if found:
            return _ARENA_SPELLINGS.get(found[-1])
    return None


def parse_arena_strict(reply: str) -> str | None:
    """The project's earlier, stricter rule (`--arena-parser strict`): every "[[label]]" in
    the reply must agree and be one of the five labels as written; none, or two different
    ones, is no verdict."""
    found = {m for m in _ARENA_PATTERNS[0].findall(reply) if m}
    if len(found) != 1:
        return None
    label = found.pop()
    return label if label in ARENA_LABELS else None


# WildBench (allenai/WildBench src/eval.py `parse_result`; the v2 judge prompts ask for one JSON
# object). The official scorer json.loads the whole reply (newlines made spaces) under OpenAI's
# JSON mode; judges without that mode wrap the object in prose or a ``` fence, so the objects in
# the reply are decoded one by one (a trailing comma before "}", as in the v2 template's own
# example, is allowed). Objects that disagree are no verdict.
def _json_objects(reply: str) -> list[dict[str, Any]]:
    text = reply.strip()
    for candidate in (text.replace("\n", " "), re.sub(r",\s*}", "}", text.replace("\n", " "))):
        try:
            obj = json.loads(candidate)
            return [obj] if isinstance(obj, dict) else []
        except json.JSONDecodeError:
            pass
    found: list[dict[str, Any]] = []
    decoder = json.JSONDecoder()
    cleaned = re.sub(r",\s*}", "}", text)
    i = cleaned.find("{")
    while i != -1:
        try:
            obj, end = decoder.raw_decode(cleaned, i)
        except json.JSONDecodeError:
            i = cleaned.find("{", i + 1)
            continue
        if isinstance(obj, dict):
            found.append(obj)
        i = cleaned.find("{", end)
    return found


def parse_wb_score(reply: str) -> dict[str, Any] | None:
    """WB-Score: {"strengths", "weaknesses", "score"}; the score as the official
    `float(r["score"])` reads it ("8" or 8), and only within 1-10."""
    scores, kept = set(), None
    for obj in _json_objects(reply):
        if "score" not in obj or isinstance(obj["score"], bool):
            continue
        try:
            value = float(str(obj["score"]).strip())
        except ValueError:
            return None
        if not 1.0 <= value <= 10.0:
            return None
        scores.add(value)
        kept = {"score": value, "strengths": obj.get("strengths"), "weaknesses": obj.get("weaknesses")}
    return kept if len(scores) == 1 else None


WB_CHOICES = ("A++", "A+", "A=B", "B+", "B++")


def parse_wb_choice(reply: str) -> str | None:
    """WB-Reward: the "choice" of the pairwise v2 prompt, one of A++ A+ A=B B+ B++
    (batch_results_format.py); anything else, or objects that disagree, is no verdict."""
    choices = {str(obj["choice"]).strip() for obj in _json_objects(reply) if "choice" in obj}
    if len(choices) != 1:
        return None
    choice = choices.pop()
    return choice if choice in WB_CHOICES else None


PARSERS: dict[str, Parser] = {p.name: p for p in (
    Parser("rating", "1", parse_rating),
    Parser("pair", "1", parse_pair),
    Parser("arena", "2", parse_arena),  # 1: all labels had to agree (now arena_strict)
    Parser("arena_strict", "1", parse_arena_strict),
    Parser("wb_score", "1", parse_wb_score),
    Parser("wb_choice", "1", parse_wb_choice),
)}

# Replies that decline to judge. Matched only when no verdict was found.
_REFUSAL = re.compile(r"^\s*(I'm sorry|I am sorry|I cannot|I can't|I can not|I won't|As an AI)", re.I)


def status_of(text: str, finish_reason: str, error: str | None, verdict: Any) -> str:
    """ok | api_error | refused | truncated | parse_error: what became of one judge call."""
    if error:
        return "api_error"
    if verdict is not None:
        return "ok"
    if finish_reason == "content_filter" or _REFUSAL.match(text):
        return "refused"
    if finish_reason == "length":
        return "truncated"
    return "parse_error"
