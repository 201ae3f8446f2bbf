"""The long-CoT format check, rule by rule, on hand-written responses."""

from __future__ import annotations

import pytest

from bolt_eval.thoughts import PRESETS
from bolt_eval.training.format_check import REASONS, check_format
from bolt_eval.training.recipe import FormatRules

BOLT = PRESETS["bolt"]
GOOD = ("<internal_thoughts>Try 2+3: it is 5. Check: 5-3=2.</internal_thoughts>"
        "<external_solution>The answer is 5.</external_solution>")


def test_a_well_formed_response_passes_with_its_parts():
    v = check_format(GOOD, "stop", BOLT, FormatRules())
    assert v.ok and v.reason is None
    assert v.thoughts == "Try 2+3: it is 5. Check: 5-3=2."
    assert v.solution == "The answer is 5."


@pytest.mark.parametrize("response, finish, rules, reason", [
    (GOOD, "length", FormatRules(), "hit_token_limit"),
    ("The answer is 5.", "stop", FormatRules(), "no_thoughts"),
    ("Try 2+3.</internal_thoughts>The answer is 5.", "stop", FormatRules(), "no_thoughts"),
    ("<internal_thoughts>Try 2+3, then 3+2, then", "stop", FormatRules(), "thoughts_unclosed"),
    ("<internal_thoughts>Try 2+3.</internal_thoughts>  \n", "stop", FormatRules(), "empty_solution"),
    ("<internal_thoughts>Try.</internal_thoughts><external_solution></external_solution>", "stop",
     FormatRules(), "empty_solution"),
    ("<internal_thoughts>a</internal_thoughts>5 <internal_thoughts>again</internal_thoughts> 5", "stop",
     FormatRules(), "tags_in_solution"),
    ("<internal_thoughts>a</internal_thoughts><external_solution>5</external_solution>"
     "<external_solution>6</external_solution>", "stop", FormatRules(), "tags_in_solution"),
    (GOOD, "stop", FormatRules(min_thought_chars=100), "thoughts_too_short"),
    (GOOD, "stop", FormatRules(max_thought_chars=10), "thoughts_too_long"),
    (GOOD, "stop", FormatRules(min_solution_chars=17), "solution_too_short"),
    (GOOD, "stop", FormatRules(max_solution_chars=15), "solution_too_long"),
])
def test_each_rule_rejects_with_its_reason(response, finish, rules, reason):
    v = check_format(response, finish, BOLT, rules)
    assert (v.ok, v.reason) == (False, reason)
    assert reason in REASONS


def test_limits_are_inclusive_and_a_cut_response_passes_when_stop_is_not_required():
    # "The answer is 5." has 16 characters: a limit of exactly 16 passes on both sides
    assert check_format(GOOD, "stop", BOLT, FormatRules(min_solution_chars=16, max_solution_chars=16)).ok
    assert check_format(GOOD, "length", BOLT, FormatRules(require_stop=False)).ok


def test_the_first_broken_rule_is_the_reason():
    # cut by the token limit and unclosed: the token limit is the cause
    v = check_format("<internal_thoughts>and so on", "length", BOLT, FormatRules())
    assert v.reason == "hit_token_limit" and v.thoughts == "and so on" and v.solution == ""
    assert check_format("<internal_thoughts>and so on", "length", BOLT,
                        FormatRules(require_stop=False)).reason == "thoughts_unclosed"


def test_other_presets_use_their_own_tags():
    sky = PRESETS["sky-t1"]
    text = "<|begin_of_thought|>hm<|end_of_thought|><|begin_of_solution|>42<|end_of_solution|>"
    v = check_format(text, "stop", sky, FormatRules())
    assert v.ok and v.solution == "42"
    assert check_format(GOOD, "stop", sky, FormatRules()).reason == "no_thoughts"
