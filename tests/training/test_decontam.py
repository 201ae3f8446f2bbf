"""Decontamination with planted overlaps, on templated puzzles and plain questions, and
the proof that the tiny recipe's training files hold no puzzle of its evaluation set."""

from __future__ import annotations

import json
import re

import pytest

from bolt_eval.training.decontam import decontaminate, suite_items
from bolt_eval.training.ngram_index import Index, Item
from bolt_eval.training.recipe import REPO_ROOT, DataSource
from bolt_eval.training.sources import Query, load_queries
from bolt_eval.types import UserError
from bolt_eval.zebra.generator import generate_set

QUESTION = ("A train leaves the station at 3 pm travelling at 60 miles per hour, and a second train leaves the "
            "same station at 4 pm travelling at 80 miles per hour on the same track. At what time does the "
            "second train catch up with the first, and how far from the station are they then?")
OTHER = ("Explain the difference between a process and a thread in an operating system, and give one example "
         "where using threads instead of processes makes a program slower rather than faster.")


def q(ident: str, prompt: str) -> Query:
    return Query(ident, prompt, "planted")


def test_planted_copies_removed_one_sentence_kept():
    items = [Item("math", "m1", (QUESTION,)), Item("chat", "c1", (OTHER,))]
    one_sentence = ("Here is something I wondered about. A train leaves the station at 3 pm travelling at 60 miles "
                    "per hour. Trains in my country are often late, and I would like to write a story about a "
                    "conductor who loves poetry, a missing suitcase, a storm over the mountains and a dog that "
                    "travels alone from one end of the line to the other every single summer.")
    queries = [q("exact", QUESTION), q("respaced", "  " + QUESTION.upper().replace(" ", "\n  ")),
               q("wrapped", "Please help with my homework: " + QUESTION + " Thanks a lot!"),
               q("one-sentence", one_sentence), q("unrelated", "Write a limerick about a cat who learns to code.")]
    kept, removed, report = decontaminate(queries, items, 13, 0.5)
    assert [k.id for k in kept] == ["one-sentence", "unrelated"]
    by_id = {r["id"]: r for r in removed}
    assert set(by_id) == {"exact", "respaced", "wrapped"}
    assert by_id["exact"]["overlap"] == 1.0 and by_id["respaced"]["overlap"] == 1.0
    assert by_id["wrapped"]["item_share"] == 1.0 and by_id["wrapped"]["query_share"] < 1.0
    assert all(r["benchmark"] == "math" and r["item"] == "m1" and r["reason"] == "contamination" for r in removed)
    # the shared sentence is seen, and is below the threshold on both sides
    match = Index(items, 13).best_match(one_sentence)
    assert match is not None and match.item == "m1" and 0 < match.overlap < 0.5
    assert report["n"] == 13 and report["checked"] == 5 and report["removed"] == 3
    assert report["removed_by_benchmark"] == {"math": 3} and report["highest_overlap_kept"] == match.overlap


def test_short_items_and_short_queries():
    items = [Item("math500", "short", ("Compute $\\dbinom{31}{28}$.",)), Item("math500", "long", (QUESTION,))]
    queries = [q("contains-short", "Could you compute \\dbinom{31}{28} for me and explain each step carefully?"),
               q("short-equal", "compute DBINOM 31 28"), q("short-other", "compute dbinom 31 27"),
               q("tiny", "hi there")]
    kept, removed, _ = decontaminate(queries, items, 13, 0.5)
    assert {r["id"]: r["item"] for r in removed} == {"contains-short": "short", "short-equal": "short"}
    assert [k.id for k in kept] == ["short-other", "tiny"]


def zebra_items(seed: str) -> list[Item]:
    return [Item("zebralogic", p.id, (p.puzzle,)) for p in generate_set([(2, 2), (2, 3), (3, 2), (3, 3)], 10, seed)]


def test_templated_puzzles_copy_caught_similar_kept():
    """Generated puzzles share their opening sentence, attribute lists and clue sentences:
    a different puzzle must stay, the same puzzle (even re-spaced) must go."""
    items = zebra_items("eval")
    others = generate_set([(2, 2), (2, 3), (3, 2), (3, 3)], 10, "train")
    queries = [Query(p.id, p.puzzle, "train") for p in others]
    queries.append(Query("leak", re.sub(r"\s+", " ", items[7].texts[0]).upper(), "train"))
    head, _, clues = items[25].texts[0].partition("## Clues:\n")
    reordered = [re.sub(r"^\d+\. ", "", c) for c in clues.strip().split("\n")][::-1]
    queries.append(Query("shuffled", head + "## Clues:\n" + "".join(f"{i}. {c}\n" for i, c in enumerate(reordered, 1)),
                         "train"))
    kept, removed, report = decontaminate(queries, items, 13, 0.5)
    assert [(r["id"], r["item"], r["overlap"], r["view"]) for r in removed] == [
        ("leak", items[7].id, 1.0, "as written"), ("shuffled", items[25].id, 1.0, "lines sorted")]
    assert len(kept) == 40 and report["highest_overlap_kept"] < 0.5
    assert report["boilerplate_grams"]["zebralogic"] > 0
    # without the boilerplate rule the shared opening alone would make every pair look alike
    opening = items[0].texts[0].split(":")[0]
    assert Index(items, 13).best_match(opening + ": - Each person has a unique name") is None


def test_duplicate_item_in_a_benchmark_still_caught():
    items = [Item("chat", "c1", (OTHER,)), Item("chat", "c2", (OTHER,))]
    _, removed, _ = decontaminate([q("copy", OTHER)], items, 13, 0.5)
    assert removed[0]["item"] == "c1" and removed[0]["overlap"] == 1.0


def test_training_files_hold_no_evaluation_puzzle():
    items, info = suite_items("train-tiny")
    assert info["zebralogic"]["items"] == 24 and info["zebralogic"]["source"].endswith("tasks/zebralogic/train-tiny.jsonl")
    for name in ("tiny-zebra.jsonl", "tiny-zebra-online.jsonl", "tiny-zebra-heldout.jsonl"):
        queries, _ = load_queries([DataSource(path=str(REPO_ROOT / "training" / "queries" / name), task="zebralogic")])
        kept, removed, report = decontaminate(queries, items, 13, 0.5)
        assert removed == [] and len(kept) == len(queries), name
        assert report["highest_overlap_kept"] < 0.5
    # and the check would see one: an evaluation puzzle planted among the training rows
    row = json.loads((REPO_ROOT / "tasks" / "zebralogic" / "train-tiny.jsonl").read_text().splitlines()[5])
    planted = Query("planted", "x", "planted", {"task": "zebralogic", "row": {**row, "id": "planted"}})
    _, removed, _ = decontaminate([planted], items, 13, 0.5)
    assert removed[0]["item"] == row["id"] and removed[0]["overlap"] == 1.0


def test_suite_that_cannot_load_names_the_task():
    with pytest.raises(UserError, match=r"suite 'bolt': task [a-z_0-9]+ cannot load its items \(.*\)\. .*queries.decontaminate.suite"):
        suite_items("bolt")


def test_bad_threshold_and_n():
    with pytest.raises(UserError, match="min_overlap must be in"):
        decontaminate([], [], 13, 0.0)
    with pytest.raises(UserError, match="n must be at least 1"):
        decontaminate([], [], 0, 0.5)
