"""Pairwise judging with position swap, through the real engine and the loopback server."""

from __future__ import annotations

import pytest
from openai_server import LoopbackServer

from bolt_eval.backends.base import BackendSpec
from bolt_eval.judging.cost import Budget, Meter
from bolt_eval.judging.judge import Judge, JudgeSpec
from bolt_eval.judging.ledger import Ledger
from bolt_eval.judging.pairwise import arena_scores, combine, swapped_prompts
from bolt_eval.judging.parsers import parse_arena, parse_arena_strict, parse_pair
from bolt_eval.judging.templates import Template

PAIR = Template("pair-test", "Compare.", "Q: {question}\n[A]\n{answer_a}\n[B]\n{answer_b}", "pair", "project:test")


@pytest.mark.parametrize("reply, verdict", [
    ("A is better. [[A]]", "A"), ("[[B]]", "B"), ("Equal. [[C]]", "tie"),
    ("[[A]] or maybe [[B]]", "A"),  # FastChat checks A first
    ("A is better", None), ("[A]", None),
])
def test_parse_pair(reply, verdict):
    assert parse_pair(reply) == verdict


@pytest.mark.parametrize("reply, label", [
    ("My final verdict is: [[A>>B]]", "A>>B"), ("[[B>A]]", "B>A"), ("[[A=B]] ... again [[A=B]]", "A=B"),
    ("[[A>B]] no wait [[B>A]]", "B>A"),  # arena-hard-auto reads the last label
    ("A>B", None), ("[[A>>>B]]", None), ("", None),
])
def test_parse_arena(reply, label):
    assert parse_arena(reply) == label


def test_parse_arena_strict_wants_every_label_to_agree():
    assert parse_arena_strict("[[A>B]] no wait [[B>A]]") is None
    assert parse_arena_strict("[[A=B]] ... again [[A=B]]") == "A=B"


@pytest.mark.parametrize("g1, g2, outcome", [
    ("A", "B", "first"),   # first wins in both positions
    ("B", "A", "second"),
    ("A", "A", "tie"),     # the judge just prefers position A: inconsistent, a tie
    ("tie", "tie", "tie"),
    ("A", None, None),     # a missing game is a failure, never a tie
])
def test_combine(g1, g2, outcome):
    assert combine(g1, g2) == outcome


def test_arena_scores_weigh_strong_verdicts_and_flip_game_two():
    assert arena_scores("A>>B", "B>A") == [1.0, 1.0, 1.0, 1.0]  # game 2 flipped: first answer wins
    assert arena_scores("A=B", "A>>B") == [0.5, 0.0, 0.0, 0.0]
    assert arena_scores(None, "A=B") == [0.5]


def test_swapped_games_through_the_engine(tmp_path):
    def judge_prefers_cats(body):
        text = body["messages"][-1]["content"]
        a = text.split("[A]\n")[1].split("\n[B]")[0]
        return "[[A]]" if "cat" in a else "[[B]]"

    with LoopbackServer(judge_prefers_cats) as server, Ledger(tmp_path / "j.sqlite") as ledger:
        judge = Judge(JudgeSpec(BackendSpec("openai", "j", base_url=server.base_url)), ledger,
                      Meter("openai", "j", None), Budget(None))
        g1, g2 = swapped_prompts(PAIR, "a cat", "a dog", question="Which pet?")
        e1, e2 = judge.run([g1, g2])
        assert (e1.verdict, e2.verdict) == ("A", "B") and combine(e1.verdict, e2.verdict) == "first"
        firsts = sorted(b["messages"][-1]["content"].split("[A]\n")[1].split("\n")[0] for b in server.requests)
        assert firsts == ["a cat", "a dog"]  # each answer was shown first once
        judge.run([g1, g2])
        assert len(server.requests) == 2  # both games come from the ledger the second time
