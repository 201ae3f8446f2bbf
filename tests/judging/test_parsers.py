import ast
import re

import pytest

from bolt_eval.judging.parsers import parse_rating, status_of


@pytest.mark.parametrize("reply, grade", [
    ("The answer is fine. Rating: [[7]]", 7.0),
    ("Rating: [[8.5]]", 8.5),
    ("first [[3]] then [[9]]", 3.0),          # the first match wins, as in FastChat
    ("no double brackets, Rating: [6]", 6.0),  # the official backup pattern
    ("[[10]] beats [4]", 10.0),                # [[r]] is tried before [r]
    ("Rating: 7/10", None),                    # nothing else counts as a score
    ("Rating: [[seven]]", None),
    ("see [2023] for details", None),          # out of 1-10: a citation, not a grade
    ("[[0]]", None),
    ("", None),
])
def test_parse_rating(reply, grade):
    assert parse_rating(reply) == grade


def test_status_of_each_kind():
    assert status_of("Rating: [[5]]", "stop", None, 5.0) == "ok"
    assert status_of("", "error", "APIConnectionError: x", None) == "api_error"
    assert status_of("I'm sorry, I can't rate this.", "stop", None, None) == "refused"
    assert status_of("", "content_filter", None, None) == "refused"
    assert status_of("The answer is long and", "length", None, None) == "truncated"
    assert status_of("The answer is good.", "stop", None, None) == "parse_error"
    assert status_of("Rating: [[5]]", "length", None, 5.0) == "ok"  # a verdict before the cut counts


# FastChat fastchat/llm_judge/common.py at 0e6d3e4 (lm-sys/FastChat, 2025-04-12), run_judge_single,
# verbatim: the official MT-Bench scorer keeps any number it finds (show_result.py drops only -1).
one_score_pattern = re.compile(r"\[\[(\d+\.?\d*)\]\]")
one_score_pattern_backup = re.compile(r"\[(\d+\.?\d*)\]")


def fastchat_rating(judgment):
    match = re.search(one_score_pattern, judgment)
    if not match:
        match = re.search(one_score_pattern_backup, judgment)

    if match:
        rating = ast.literal_eval(match.groups()[0])
    else:
        rating = -1
    return rating


@pytest.mark.parametrize("reply", [
    "Rating: [[7]]", "Rating: [[8.5]]", "first [[3]] then [[9]]", "Rating: [6]", "[[10]] beats [4]", "Rating: 7/10",
    "Rating: [[seven]]", "see [2023] for details", "[[0]]", "Rating: [[11]]", "",
])
def test_rating_against_fastchat(reply):
    """Equal to FastChat wherever it finds a grade in 1-10; where it would score 0, 11 or a
    citation like [2023], here that is no verdict (parse_error, asked again, shown in coverage):
    a deliberate difference, documented in docs/benchmarks.md."""
    theirs = fastchat_rating(reply)
    ours = parse_rating(reply)
    if theirs != -1 and 1 <= theirs <= 10:
        assert ours == theirs
    else:
        assert ours is None
