"""Arena-Hard verdicts read as arena-hard-auto reads them, at commit 196f6b8 (lmarena/
arena-hard-auto, 2025-06-20): gen_judgment.py `get_score` with the config's regex_patterns,
then show_result.py `label_to_score`. Both are copied below verbatim as the reference; every
crafted reply must give the battle scores upstream gives, or no verdict where upstream would
raise (a label outside its ten)."""

from __future__ import annotations

import re

import pytest

from bolt_eval.judging.parsers import PARSERS, parse_arena, parse_arena_strict

# config/arena-hard-v0.1.yaml and config/arena-hard-v2.0.yaml, regex_patterns
UPSTREAM_PATTERNS = [r"\[\[([AB<>=]+)\]\]", r"\[([AB<>=]+)\]"]
WEIGHT = 3
# show_result.py load_judgments
LABEL_TO_SCORE = {
    "A>B": [1], "A>>B": [1] * WEIGHT, "A=B": [0.5], "A<<B": [0] * WEIGHT, "A<B": [0],
    "B>A": [0], "B>>A": [0] * WEIGHT, "B=A": [0.5], "B<<A": [1] * WEIGHT, "B<A": [1],
}


def upstream_get_score(judgment, patterns=UPSTREAM_PATTERNS):
    """gen_judgment.py get_score, verbatim."""
    for pattern in patterns:
        pattern = re.compile(pattern)

        matches = pattern.findall(judgment.upper())
        matches = [m for m in matches if m != ""]

        if len(set(matches)) > 0:
            return matches[-1].strip("\n")
    return None


REPLIES = [
    ("My final verdict is: [[A>B]]", "A>B"),
    ("my final verdict is [[a>>b]]", "A>>B"),                        # case: upstream upper-cases
    ("At first [[A>B]], but on reflection: [[B>A]]", "B>A"),         # repeated labels: the last one
    ("[[A=B]] ... [[A=B]]", "A=B"),
    ("Assistant A is worse: [[B<A]]", "A>B"),                        # reversed spellings
    ("[[A<<B]]", "B>>A"),
    ("[[B=A]]", "A=B"),
    ("[[B<<A]]", "A>>B"),
    ("[[A<B]]", "B>A"),
    ("Verdict: [A>B]", "A>B"),                                       # single brackets, the fallback pattern
    ("[[B>A]] although one might say [A>>B]", "B>A"),                # double brackets are tried first
    ("[B>A] first, then [A=B]", "A=B"),
    ("Neither: [[A]]", None),                                        # upstream: KeyError in label_to_score
    ("[[A>>>B]]", None),
    ("Both answers have merit.", None),
    ("Rating: [[7]]", None),
    ("", None),
]


@pytest.mark.parametrize("reply, label", REPLIES)
def test_official_reading_matches_upstream(reply, label):
    assert parse_arena(reply) == label
    theirs = upstream_get_score(reply)
    if label is None:  # upstream finds nothing, or a label show_result.py cannot score
        assert theirs is None or theirs not in LABEL_TO_SCORE
    else:
        assert LABEL_TO_SCORE[label] == LABEL_TO_SCORE[theirs]  # the same battles


def test_the_strict_rule_stays_as_an_option():
    assert parse_arena_strict("My final verdict is: [[A>B]]") == "A>B"
    assert parse_arena_strict("At first [[A>B]], but on reflection: [[B>A]]") is None  # labels disagree
    assert parse_arena_strict("[[a>b]]") is None and parse_arena_strict("[[B<A]]") is None
    assert parse_arena_strict("Verdict: [A>B]") is None


def test_parser_versions_are_recorded():
    assert PARSERS["arena"].id == "arena@2" and PARSERS["arena_strict"].id == "arena_strict@1"


def test_the_task_option_picks_the_parser():
    from bolt_eval.registry import benchmarks
    from bolt_eval.types import UserError

    task = benchmarks.get("arena_hard")(style_tokenizer="words", arena_parser="strict")
    assert {t.parser for t in task.judge_templates().values()} == {"arena_strict"}
    default = benchmarks.get("arena_hard")(style_tokenizer="words")
    assert {t.parser for t in default.judge_templates().values()} == {"arena"}
    with pytest.raises(UserError, match="--arena-parser lenient: choose official"):
        benchmarks.get("arena_hard")(arena_parser="lenient")
