"""The shipped ICL exemplars teach the format the harness splits on, the zebra one has the
answer shown, the per-query draw is fixed and uniform, bad files fail naming the place, and
the stage-1 prompt of the tiny recipe fits its 2048-token budget."""

from __future__ import annotations

import itertools
import json
from collections import Counter
from pathlib import Path

import pytest

from bolt_eval.thoughts import PRESETS, split_response
from bolt_eval.training.exemplars import (
    Exemplar,
    draw,
    icl_messages,
    load_exemplars,
    system_instruction,
)
from bolt_eval.types import UserError

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "training" / "exemplars"
BOLT = PRESETS["bolt"]
ALL_TAGS = ["<query>", "</query>"] + [t for d in PRESETS.values() if d for t in vars(d).values() if t]


@pytest.fixture(scope="module")
def shipped() -> list[Exemplar]:
    return load_exemplars(SHIPPED)


def by_id(exemplars: list[Exemplar], ident: str) -> Exemplar:
    return next(ex for ex in exemplars if ex.id == ident)


def test_every_shipped_exemplar_reads_back_through_the_harness_splitter(shipped):
    assert len(shipped) == 10
    for ex in shipped:
        split = split_response(ex.response(BOLT), BOLT)
        assert split.thoughts_closed, ex.place
        assert (split.thoughts, split.solution) == (ex.thoughts, ex.solution), ex.place
        assert split.solution and not [t for t in ALL_TAGS if t in split.solution], ex.place
        assert ex.response(BOLT).startswith("<internal_thoughts>\n")
        assert ex.response(BOLT).endswith("\n</external_solution>")


def test_topics_cover_the_paper_mix_and_ids_are_unique(shipped):
    assert Counter(ex.topic for ex in shipped) == {
        "math": 2, "coding": 2, "reasoning": 2, "writing": 1, "advice": 1, "science": 1, "data": 1}
    assert len({ex.id for ex in shipped}) == 10


def test_thoughts_are_150_to_450_words_and_reflect(shipped):
    words = {ex.id: len(ex.thoughts.split()) for ex in shipped}
    assert {i: n for i, n in words.items() if not 150 <= n <= 450} == {}
    # Each shows the "wait, ..." reflection the paper names among long-CoT behaviours.
    assert [ex.id for ex in shipped if "Wait," not in ex.thoughts] == []


def test_zebra_exemplar_has_the_unique_answer_it_shows(shipped):
    from bolt_eval.zebra.generator import render_puzzle
    from bolt_eval.zebra.grading import grade, parse_answer
    from bolt_eval.zebra.pools import ATTRIBUTES
    from bolt_eval.zebra.solver import Clue, count_solutions, solve

    attrs = {"Name": ["Diego", "Elena", "Greta"], "Pet": ["cat", "dog", "parrot"],
             "Drink": ["coffee", "tea", "milk"]}
    clues = [Clue("direct_left", ("Name", "Diego"), ("Drink", "coffee")),
             Clue("same_house", ("Pet", "cat"), ("Name", "Diego")),
             Clue("somewhere_left", ("Name", "Elena"), ("Pet", "cat")),
             Clue("same_house", ("Pet", "parrot"), ("Drink", "tea"))]
    ex = by_id(shipped, "reasoning-zebra-houses")
    # The exemplar's puzzle is exactly these clues, in the generator's own wording.
    assert ex.query.startswith(render_puzzle(3, [(ATTRIBUTES[a], v) for a, v in attrs.items()], clues))
    assert count_solutions(3, attrs, clues) == 1
    grid = solve(3, attrs, clues)
    truth = {"header": ["House", *attrs], "rows": [[str(h + 1), *(grid[a][h] for a in attrs)] for h in range(3)]}
    assert truth["rows"][0] == ["1", "Elena", "parrot", "tea"]
    result = grade(truth, parse_answer(ex.solution))
    assert (result.parsed, result.solved, result.cells_correct) == (True, True, 9)


def test_math_exemplars_answer_in_the_math500_scorers_form(shipped):
    from bolt_eval.benchmarks.math500 import check, extract_answer

    for ident, reference in (("math-divisible-by-3-or-5", "400"), ("math-rectangle-area", "60")):
        answer, how = extract_answer(by_id(shipped, ident).solution)
        assert (answer, how, check(answer, reference)["correct"]) == (reference, "boxed", True)


def test_draw_is_fixed_per_seed_and_key_and_spreads_over_all_exemplars(shipped):
    assert draw(shipped, 3, 0, "q1") == ["science-sky-colours", "coding-mutable-default", "data-monthly-sales"]
    assert draw(shipped, 3, 1, "q1") == ["math-divisible-by-3-or-5", "advice-two-job-offers", "math-rectangle-area"]
    assert draw(list(reversed(shipped)), 3, 0, "q1") == draw(shipped, 3, 0, "q1")  # file order does not matter
    draws = [draw(shipped, 3, 0, f"query-{i}") for i in range(1000)]
    assert all(len(set(d)) == 3 for d in draws)  # without replacement
    counts = Counter(itertools.chain.from_iterable(draws))
    assert set(counts) == {ex.id for ex in shipped}
    assert 240 <= min(counts.values()) and max(counts.values()) <= 360  # expected 300 each
    assert len({tuple(d) for d in draws}) > 500  # keys give different draws, not a few fixed ones


def test_icl_messages_are_system_exemplar_turns_then_the_query(shipped):
    messages = icl_messages("What is 2 + 2?", shipped, k=2, seed=0, key="q1")
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user", "assistant", "user"]
    shown = [by_id(shipped, i) for i in draw(shipped, 2, 0, "q1")]
    assert [m["content"] for m in messages[1:5]] == [
        shown[0].query, shown[0].response(BOLT), shown[1].query, shown[1].response(BOLT)]
    assert messages[-1] == {"role": "user", "content": "What is 2 + 2?"}
    assert messages[0]["content"] == system_instruction(BOLT)
    assert all(tag in messages[0]["content"] for tag in ("<internal_thoughts>", "</external_solution>"))
    assert icl_messages("Q", shipped, 2, 0, "q1") == icl_messages("Q", shipped, 2, 0, "q1")


def test_icl_messages_options_system_zero_shot_and_other_presets(shipped):
    assert [m["role"] for m in icl_messages("Q", shipped, 0, 0, "k", system="")] == ["user"]
    assert icl_messages("Q", shipped, 0, 0, "k", system="Be brief.")[0] == {"role": "system", "content": "Be brief."}
    think = icl_messages("Q", shipped, 1, 0, "k", delims=PRESETS["think"])
    assert "after </think>" in think[0]["content"]
    assert think[2]["content"].startswith("<think>\n") and "<internal_thoughts>" not in think[2]["content"]
    assert split_response(think[2]["content"], PRESETS["think"]).solution == by_id(shipped, draw(shipped, 1, 0, "k")[0]).solution


def test_k_out_of_range_and_empty_query_are_user_errors(shipped):
    with pytest.raises(UserError) as err:
        icl_messages("Q", shipped, 11, 0, "q1")
    assert str(err.value) == "bootstrap.k = 11: there are 10 exemplars to draw from; set k between 0 and 10"
    with pytest.raises(UserError, match=r"^query q7: the query text is empty; fix or drop it in the query set$"):
        icl_messages("  \n", shipped, 2, 0, "q7")


GOOD = """---
id: {id}
topic: math
---
<query>
What is 2 + 2?
</query>
<internal_thoughts>
Two plus two. Wait, check: 4.
</internal_thoughts>
<external_solution>
{solution}
</external_solution>
"""


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text, encoding="utf-8")
    return folder / name


def load_error(tmp_path: Path, text: str) -> str:
    write(tmp_path, "01-bad.md", text)
    with pytest.raises(UserError) as err:
        load_exemplars(tmp_path)
    return str(err.value).replace(str(tmp_path / "01-bad.md"), "FILE")


def test_a_good_file_loads_with_its_place(tmp_path):
    path = write(tmp_path, "01-sum.md", GOOD.format(id="sum", solution="4"))
    write(tmp_path, "README.md", "not an exemplar")
    [ex] = load_exemplars(tmp_path)
    assert ex == Exemplar(id="sum", topic="math", query="What is 2 + 2?",
                          thoughts="Two plus two. Wait, check: 4.", solution="4", place=str(path))


def test_missing_section(tmp_path):
    text = GOOD.format(id="x", solution="4").replace("<query>\nWhat is 2 + 2?\n</query>\n", "")
    assert load_error(tmp_path, text) == (
        "FILE: the query section is missing; add it between a <query> line and a </query> line")


def test_unclosed_thoughts(tmp_path):
    text = GOOD.format(id="x", solution="4").replace("</internal_thoughts>\n", "")
    assert load_error(tmp_path, text) == (
        "FILE line 8: the internal thoughts section is never closed; add a </internal_thoughts> line after it")
    text = GOOD.format(id="x", solution="4").split("</internal_thoughts>")[0]
    assert load_error(tmp_path, text) == (
        "FILE line 8: the internal thoughts section is never closed; add a </internal_thoughts> line after it")


def test_tag_inside_the_solution(tmp_path):
    text = GOOD.format(id="x", solution="The answer is 4 </internal_thoughts>")
    assert load_error(tmp_path, text) == (
        "FILE line 12: the external solution contains the tag </internal_thoughts>; remove it "
        "(a tag stands alone on its own line, and only where a section opens or closes)")


def test_sections_out_of_order_and_stray_text(tmp_path):
    good = GOOD.format(id="x", solution="4")
    swapped = good.replace("<query>\nWhat is 2 + 2?\n</query>\n", "") + "<query>\nWhat is 2 + 2?\n</query>\n"
    assert load_error(tmp_path, swapped) == (
        "FILE line 11: the query must come before the internal thoughts; the order is query, "
        "internal thoughts, external solution")
    assert load_error(tmp_path, good.replace("</query>\n", "</query>\nstray\n")) == (
        "FILE line 8: text outside the sections; move it inside <query>, <internal_thoughts> "
        "or <external_solution>")


def test_front_matter_errors(tmp_path):
    good = GOOD.format(id="x", solution="4")
    assert load_error(tmp_path, good.replace("topic: math\n", "")) == (
        "FILE: front matter needs 'topic' (a non-empty text); add 'topic: ...' between the '---' lines")
    assert load_error(tmp_path, good.replace("topic: math\n", "topic: math\nlevel: 3\n")) == (
        "FILE: front matter key 'level' is unknown; the keys are id, topic")
    assert load_error(tmp_path, good.split("\n", 1)[1]) == (
        "FILE line 1: an exemplar starts with front matter: a '---' line, 'id: ...', 'topic: ...', "
        "and a closing '---' line")


def test_duplicate_id(tmp_path):
    write(tmp_path, "01-a.md", GOOD.format(id="same", solution="4"))
    write(tmp_path, "02-b.md", GOOD.format(id="same", solution="four"))
    with pytest.raises(UserError) as err:
        load_exemplars(tmp_path)
    assert str(err.value) == (f"{tmp_path / '02-b.md'}: id 'same' is already used by "
                              f"{tmp_path / '01-a.md'}; give each exemplar its own id")


def test_missing_or_empty_folder(tmp_path):
    with pytest.raises(UserError) as err:
        load_exemplars(tmp_path / "nope")
    assert str(err.value) == (f"{tmp_path / 'nope'}: no such exemplar folder; set bootstrap.exemplars "
                              f"to a folder of exemplar files (the shipped ones are in training/exemplars)")
    write(tmp_path, "README.md", "only a readme")
    with pytest.raises(UserError, match=r"no exemplar files \(\*\.md besides README\.md\)"):
        load_exemplars(tmp_path)


def test_relative_folder_resolves_from_the_repository(tmp_path, monkeypatch, shipped):
    monkeypatch.chdir(tmp_path)
    assert load_exemplars("training/exemplars") == shipped


def test_tiny_recipe_prompt_fits_2048_tokens_for_any_two_exemplars(shipped):
    """tiny-cpu draws k=2 for 3x3 ZebraLogic queries; any pair may be drawn."""
    from transformers import AutoTokenizer

    from bolt_eval.models import default_model_dir
    from bolt_eval.zebra.prompt import render_prompt
    from bolt_eval.zebra.puzzle import Puzzle

    tok = AutoTokenizer.from_pretrained(default_model_dir())
    rows = [json.loads(line) for line in (ROOT / "tasks/zebralogic/smoke.jsonl").read_text().splitlines()]
    queries = [render_prompt(Puzzle.from_record(r, "smoke")) for r in rows if r["size"] == "3*3"]
    assert queries

    def tokens(messages: tuple) -> int:
        return len(tok(tok.apply_chat_template(list(messages), tokenize=False, add_generation_prompt=True),
                       add_special_tokens=False)["input_ids"])

    worst = max(tokens(icl_messages(q, list(pair), 2, 0, "k")) for q in queries
                for pair in itertools.combinations(shipped, 2))
    assert 1500 < worst < 2048
