import pytest

from bolt_eval.thoughts import get_delimiters, split_response
from bolt_eval.types import UserError


def test_think_preset_splits_thoughts_from_solution():
    sp = split_response("<think>try 2+3=5</think>\nThe answer is 5.", get_delimiters("think"))
    assert (sp.thoughts, sp.solution, sp.thoughts_closed) == ("try 2+3=5", "The answer is 5.", True)


def test_sky_t1_strips_solution_tags():
    text = "<|begin_of_thought|>hmm<|end_of_thought|><|begin_of_solution|>x=1<|end_of_solution|>"
    sp = split_response(text, get_delimiters("sky-t1"))
    assert (sp.thoughts, sp.solution) == ("hmm", "x=1")


def test_bolt_preset():
    text = "<internal_thoughts>a\nb</internal_thoughts>\n<external_solution>final</external_solution>"
    sp = split_response(text, get_delimiters("bolt"))
    assert (sp.thoughts, sp.solution) == ("a\nb", "final")


def test_unclosed_thoughts_have_no_solution():
    sp = split_response("<think>still thinking when the budget ran out", get_delimiters("think"))
    assert (sp.thoughts, sp.solution, sp.thoughts_closed) == ("still thinking when the budget ran out", "", False)


def test_close_tag_without_open_tag_counts_prefix_as_thoughts():
    sp = split_response("scratch work</think>answer", get_delimiters("think"))
    assert (sp.thoughts, sp.solution) == ("scratch work", "answer")


def test_no_tags_and_none_preset_keep_whole_text():
    assert split_response(" plain ", get_delimiters("think")).solution == "plain"
    assert split_response("<think>x</think>y", get_delimiters("none")).solution == "<think>x</think>y"


def test_unknown_preset_names_choices():
    with pytest.raises(UserError, match="unknown --thoughts preset 'thinking'; choose one of bolt, think, sky-t1, none"):
        get_delimiters("thinking")
