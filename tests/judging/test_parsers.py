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
