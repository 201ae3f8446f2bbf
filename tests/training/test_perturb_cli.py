"""`bolt-eval data perturb` end to end: files, the report beside the output, wrong answers
from a stage 1 pool, bad input (exit 2, nothing written), the same bytes in two processes."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bolt_eval.cli import main
from bolt_eval.training.perturb import KINDS

PROMPT = "How many apples, 12 - 3?"


def assistant(thoughts: str, solution: str) -> str:
    return f"<internal_thoughts>{thoughts}</internal_thoughts><external_solution>{solution}</external_solution>"


ROWS = [
    {"id": "a", "messages": [{"role": "user", "content": PROMPT}, {"role": "assistant", "content": assistant(
        "12 apples.\n\nWait, 3 are gone.\n\nSo 9 remain.", "9")}]},
    {"id": "b", "messages": [{"role": "user", "content": "Name a colour."}, {"role": "assistant", "content": assistant(
        "Red is one.\n\nHowever, blue too.\n\nPick red.", "red")}]},
]


def write_rows(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def write_pool(out: Path) -> Path:
    """A stage 1 output folder: curated queries, the bootstrap manifest, and pool.jsonl."""
    (out / "queries").mkdir(parents=True)
    (out / "bootstrap").mkdir()
    write_rows(out / "queries" / "queries.jsonl", [{"id": "q1", "prompt": PROMPT}, {"id": "q2", "prompt": "Name a colour."}])
    (out / "bootstrap" / "manifest.json").write_text(json.dumps({"config": {"reward": {"components": [
        {"kind": "verifier", "name": "verifier"}, {"kind": "format", "name": "format"}]}}}))

    def entry(query, index, response, ok, verifier):
        return {"query": query, "index": index, "format_ok": ok, "response": response,
                "reward_parts": {"verifier": verifier, "format": 1.0}}
    return write_rows(out / "bootstrap" / "pool.jsonl", [
        entry("q1", 0, assistant("12 - 3 = 9.", "9"), True, 1.0),  # right
        entry("q1", 1, "12 - 3 = 8.</internal_thoughts><external_solution>8</external_solution>", True, 0.0),
        entry("q1", 2, assistant("no", "7"), False, None),  # format-rejected
        entry("q1", 3, assistant("12 - 3 = 7.", "7"), True, 0.5),  # partly right is wrong
        entry("q2", 0, assistant("Red.", "red"), True, 1.0),
    ])


def run(args: list[str]) -> int:
    return main(["data", "perturb", *args])


def test_perturb_writes_the_set_and_its_report(tmp_path, capsys):
    src = write_rows(tmp_path / "sft.jsonl", ROWS)
    dst = tmp_path / "out" / "sft-shuffle.jsonl"
    assert run(["--kind", "shuffle", "--ratio", "1", "--seed", "3", str(src), "-o", str(dst)]) == 0
    out = [json.loads(line) for line in dst.read_text().splitlines()]
    assert [r["id"] for r in out] == ["a", "b"] and list(out[0]) == ["id", "messages"]  # keys in their order
    report = json.loads((tmp_path / "out" / "sft-shuffle.jsonl.report.json").read_text())
    assert report["kind"] == "shuffle" and report["rows"] == 2 and report["changed"] == 2
    assert report["details"] == {"steps": 6, "steps_moved": 6, "unit_paragraph": 2}
    assert report["files"]["output_sha256"] == hashlib.sha256(dst.read_bytes()).hexdigest()
    printed = capsys.readouterr().out
    assert "shuffle at ratio 1 (seed 3, thoughts bolt): 2 rows, 2 changed, 0 skipped" in printed
    kw = tmp_path / "kw.jsonl"
    assert run(["--kind", "keywords", "--ratio", "1", "--seed", "3", str(src), "-o", str(kw)]) == 0
    files = json.loads(kw.with_name("kw.jsonl.report.json").read_text())["files"]
    assert files["keywords"].endswith("training/perturb/reflection-keywords.txt")
    assert files["keywords_sha256"] == hashlib.sha256(Path(files["keywords"]).read_bytes()).hexdigest()
    assert run(["--kind", "keywords", "--ratio", "1", "--seed", "3", str(src), "-o", str(tmp_path)]) == 2
    assert "is a folder; -o names the JSONL file to write" in capsys.readouterr().err


def test_wrong_answers_come_from_the_stage_1_pool(tmp_path, capsys):
    src = write_rows(tmp_path / "sft.jsonl", ROWS)
    pool = write_pool(tmp_path / "run")
    dst = tmp_path / "wrong.jsonl"
    assert run(["--kind", "wrong-answers", "--ratio", "1", "--seed", "0", "--pool", str(pool), str(src),
                "-o", str(dst)]) == 0
    out = [json.loads(line) for line in dst.read_text().splitlines()]
    assert out[0]["messages"][-1]["content"] in {  # as stage 1 writes SFT rows (join_response)
        "<internal_thoughts>\n12 - 3 = 8.\n</internal_thoughts>\n<external_solution>\n8\n</external_solution>",
        "<internal_thoughts>\n12 - 3 = 7.\n</internal_thoughts>\n<external_solution>\n7\n</external_solution>"}
    assert out[0]["messages"][0] == ROWS[0]["messages"][0] and out[1] == ROWS[1]
    report = json.loads(dst.with_name("wrong.jsonl.report.json").read_text())
    assert report["skipped"] == [{"row": 1, "line": 2, "reason": "no wrong trace in the pool for this prompt"}]
    assert report["details"] == {"eligible": 1, "pool_prompts_with_wrong_traces": 1, "pool_wrong_traces": 2,
                                 "pool_wrong_unusable": 0, "replaced": 1}
    assert "skipped, no wrong trace in the pool for this prompt: 1" in capsys.readouterr().out
    zero = tmp_path / "wrong0.jsonl"
    assert run(["--kind", "wrong-answers", "--ratio", "0", "--seed", "0", "--pool", str(pool), str(src),
                "-o", str(zero)]) == 0
    assert [json.loads(line) for line in zero.read_text().splitlines()] == ROWS


def test_wrong_answers_from_chat_rows_with_a_verdict(tmp_path, capsys):
    src = write_rows(tmp_path / "sft.jsonl", ROWS)
    wrong = assistant("12 - 3 = 8.", "8")

    def chat(prompt, text, correct):
        return {"messages": [{"role": "user", "content": prompt}, {"role": "assistant", "content": text}],
                "correct": correct}
    pool = write_rows(tmp_path / "pool.jsonl", [chat(PROMPT, ROWS[0]["messages"][1]["content"], True),
                                                chat(f"  {PROMPT}\n", wrong, False)])
    dst = tmp_path / "wrong.jsonl"
    assert run(["--kind", "wrong-answers", "--ratio", "1", "--seed", "0", "--pool", str(pool), str(src),
                "-o", str(dst)]) == 0
    out = [json.loads(line) for line in dst.read_text().splitlines()]
    assert out[0]["messages"][-1]["content"] == (
        "<internal_thoughts>\n12 - 3 = 8.\n</internal_thoughts>\n<external_solution>\n8\n</external_solution>")
    write_rows(pool, [{"messages": [{"role": "user", "content": PROMPT}, {"role": "assistant", "content": wrong}]}])
    assert run(["--kind", "wrong-answers", "--ratio", "1", "--seed", "0", "--pool", str(pool), str(src),
                "-o", str(dst), "--force"]) == 2
    assert "pool.jsonl line 1: field 'correct' missing" in capsys.readouterr().err
    assert run(["--kind", "digits", "--ratio", "1", "--seed", "0", "--pool", str(pool), str(src),
                "-o", str(dst), "--force"]) == 2
    assert "--pool is read by --kind wrong-answers only" in capsys.readouterr().err


def test_a_pool_without_a_verifier_is_refused(tmp_path, capsys):
    pool = write_pool(tmp_path / "run")
    (pool.parent / "manifest.json").write_text(json.dumps({"config": {"reward": {"components": [
        {"kind": "classifier", "name": "orm"}]}}}))
    src = write_rows(tmp_path / "sft.jsonl", ROWS)
    assert run(["--kind", "wrong-answers", "--ratio", "1", "--seed", "0", "--pool", str(pool), str(src),
                "-o", str(tmp_path / "w.jsonl")]) == 2
    assert "has no verifier component (kinds: classifier)" in capsys.readouterr().err
    assert not (tmp_path / "w.jsonl").exists()


BAD = {
    "ratio": (ROWS, ["--ratio", "1.5"], "ratio 1.5 is outside 0..1"),
    "kind": (ROWS, ["--kind", "shufle"], "unknown perturbation kind 'shufle'; did you mean 'shuffle'?"),
    "delimiters": ([ROWS[0], {"messages": [{"role": "assistant", "content": "<think>x</think>y"}]}], [],
                   "sft.jsonl line 2: the assistant turn has no <internal_thoughts>...</internal_thoughts>"),
    "json": (None, [], "sft.jsonl line 3: invalid JSON"),
    "preset": (ROWS, ["--thoughts", "r1"], "unknown --thoughts preset 'r1'"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_exits_2_and_writes_nothing(tmp_path, capsys, case):
    rows, extra, message = BAD[case]
    src = tmp_path / "sft.jsonl"
    if rows is None:
        src.write_text(json.dumps(ROWS[0]) + "\n" + json.dumps(ROWS[1]) + "\n{\"messages\": [\n")
    else:
        write_rows(src, rows)
    dst = tmp_path / "out.jsonl"
    args = {"--kind": "shuffle", "--ratio": "0.5", "--seed": "1"}
    args.update(dict(zip(extra[0::2], extra[1::2])))
    assert run([x for kv in args.items() for x in kv] + [str(src), "-o", str(dst)]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sft.jsonl"]  # nothing written, no temp file left


def test_existing_output_needs_force(tmp_path, capsys):
    src = write_rows(tmp_path / "sft.jsonl", ROWS)
    dst = tmp_path / "out.jsonl"
    dst.write_text("keep me\n")
    args = ["--kind", "delete", "--ratio", "0.5", "--seed", "1", str(src), "-o", str(dst)]
    assert run(args) == 2
    assert "out.jsonl exists; pass --force to overwrite it" in capsys.readouterr().err
    assert dst.read_text() == "keep me\n"
    assert run([*args, "--force"]) == 0
    assert len(dst.read_text().splitlines()) == 2
    assert run(["--kind", "delete", "--ratio", "0.5", "--seed", "1", str(src), "-o", str(src), "--force"]) == 2
    assert "would overwrite an input" in capsys.readouterr().err


SCRIPT = """
import hashlib, sys
from pathlib import Path
from bolt_eval.training.perturb import KINDS, perturb_file
src, out = Path(sys.argv[1]), Path(sys.argv[2])
for kind in KINDS:
    pool = Path(sys.argv[3]) if kind == "wrong-answers" else None
    perturb_file(src, out / f"{kind}.jsonl", kind, 0.5, 42, pool=pool)
    print(kind, hashlib.sha256((out / f"{kind}.jsonl").read_bytes()).hexdigest())
"""


def test_the_same_bytes_in_two_processes(tmp_path):
    many = [{"id": str(i), "messages": [{"role": "user", "content": PROMPT if i % 2 else f"Q{i}"},
                                        {"role": "assistant", "content": assistant(
                                            f"Try {i}.\n\nWait, {i * 7} is odd.\n\nHmm, so {i + 0.5}.", str(i))}]}
            for i in range(30)]
    src = write_rows(tmp_path / "sft.jsonl", many)
    pool = write_pool(tmp_path / "run")
    hashes = []
    for hash_seed in ("1", "2"):
        out = tmp_path / f"p{hash_seed}"
        out.mkdir()
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        done = subprocess.run([sys.executable, "-c", SCRIPT, str(src), str(out), str(pool)], env=env,
                              capture_output=True, text=True, check=True)
        hashes.append(done.stdout)
    assert hashes[0] == hashes[1]
    assert [line.split()[0] for line in hashes[0].splitlines()] == list(KINDS)
    original = hashlib.sha256(src.read_bytes()).hexdigest()
    assert original not in hashes[0]  # every kind changed something
