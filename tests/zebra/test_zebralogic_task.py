"""The ZebraLogic task through the real CLI: replayed answers with known cell counts, the
default model end to end, and the errors a bad puzzle file gets."""

import json

import pytest
from conftest import ROOT, bolt

from bolt_eval.benchmarks.zebralogic import ZebraLogic, generated_set
from bolt_eval.types import UserError

SMOKE = ROOT / "tasks" / "zebralogic" / "smoke.jsonl"


def answer(record, wrong_cells=0):
    header, rows = record["solution"]["header"], record["solution"]["rows"]
    solution = {f"House {r[0]}": dict(zip(header[1:], r[1:])) for r in rows}
    for house in list(solution)[:wrong_cells]:
        first = header[1]
        solution[house][first] = "nobody"
    return "Reasoning...\n```json\n" + json.dumps({"reasoning": "r", "solution": solution}) + "\n```\nDone."


def test_replayed_answers_give_exact_cell_and_puzzle_accuracy(tmp_path):
    records = [json.loads(line) for line in SMOKE.read_text().splitlines()]
    # puzzle 0 right, puzzle 1 one cell wrong, puzzle 2 unanswered, the rest right
    texts = [answer(r) for r in records]
    texts[1] = answer(records[1], wrong_cells=1)
    texts[2] = "I could not solve it."
    replay = tmp_path / "answers.jsonl"
    replay.write_text("".join(json.dumps({"id": r["id"], "response": t}) + "\n" for r, t in zip(records, texts)))
    out = bolt("run", "--backend", "replay", "--model", str(replay), "--tasks", "zebralogic", "--data", str(SMOKE),
               "--out", str(tmp_path / "res"), "--no-progress")
    assert out.returncode == 0, out.stderr
    (run,) = (tmp_path / "res").iterdir()
    m = json.loads((run / "summary.json").read_text())["metrics"]
    cells = [len(r["solution"]["rows"]) * (len(r["solution"]["header"]) - 1) for r in records]
    assert m["cell_accuracy"]["mean"] == round((sum(cells) - 1 - cells[2]) / sum(cells), 6)
    assert m["puzzle_accuracy"]["mean"] == 6 / 8 and m["no_answer_rate"] == 1 / 8
    assert set(m["by_size"]) == {"2*2", "2*3", "3*2", "3*3"} and m["by_size"]["3*3"]["puzzle_accuracy"]["mean"] == 1.0
    assert set(m["by_bucket"]) == {"small"}


def test_generated_default_set_has_the_official_mix():
    rows, source, digest = generated_set()
    sizes = [r["size"] for _, r in rows]
    assert len(rows) == 1000 and all(sizes.count(f"{n}*{m}") == 40 for n in range(2, 7) for m in range(2, 7))
    assert source == "generated:zebra-v1-seed2025-40x25" and len(digest) == 64


def test_bad_puzzle_file_names_line_and_field(tmp_path):
    rec = json.loads(SMOKE.read_text().splitlines()[0])
    del rec["solution"]
    path = tmp_path / "p.jsonl"
    path.write_text(json.dumps(rec) + "\n")
    with pytest.raises(UserError, match=r"p.jsonl line 1: missing field 'solution'"):
        ZebraLogic(data=str(path)).load()


def test_generate_command_is_deterministic(tmp_path):
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    for path in (a, b):
        out = bolt("zebra", "generate", "--sizes", "2x2,3x3", "--n", "3", "--seed", "7", "--out", str(path))
        assert out.returncode == 0 and "wrote 6 puzzles" in out.stdout
    assert a.read_bytes() == b.read_bytes()
    assert bolt("zebra", "generate", "--sizes", "9x9", "--out", str(a)).returncode == 2
