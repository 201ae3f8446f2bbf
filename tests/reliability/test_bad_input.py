"""The bad-input catalogue: each case runs `bolt-eval run` (in process, the real CLI path),
checks the exact message and exit code 2, and checks that nothing half-written is left:
the results root holds the files it held before, byte for byte (none for a new root)."""

from __future__ import annotations

import json
import re
import sqlite3

import pytest
from conftest import MATH_FIXTURE, ROOT
from openai_server import Fault, LoopbackServer

from bolt_eval.cli import main

ZEBRA = ROOT / "tasks" / "zebralogic" / "smoke.jsonl"
MATH_IDS = [json.loads(line)["unique_id"] for line in MATH_FIXTURE.read_text().splitlines()[:2]]


def snapshot(root):
    """Every file under `root` and its bytes (empty folders are not output)."""
    return {p: p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def fails(capsys, root, *args):
    """Run the CLI expecting a user error; return its message (one line, without the prefix)."""
    before = snapshot(root)
    capsys.readouterr()
    assert main(["run", "--out", str(root), "--no-progress", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("bolt-eval: error: ") and err.count("\n") == 1, err
    assert snapshot(root) == before  # nothing written, nothing rewritten
    return err.removeprefix("bolt-eval: error: ").rstrip("\n")


@pytest.fixture
def answers(tmp_path):
    """Replay answers for the first two MATH500 fixture problems and ZebraLogic puzzles."""
    path = tmp_path / "answers.jsonl"
    zebra = [json.loads(line)["id"] for line in ZEBRA.read_text().splitlines()[:2]]
    path.write_text("".join(json.dumps({"id": i, "response": "\\boxed{1}"}) + "\n" for i in MATH_IDS + zebra))
    return path


def test_a_task_listed_twice(capsys, tmp_path, answers):
    assert fails(capsys, tmp_path / "r", "--backend", "replay", "--model", str(answers), "--tasks", "math500,math500",
                 "--data", f"math500={MATH_FIXTURE}") == \
        "task math500 is listed twice with the same data and settings; list it once"


def test_a_results_folder_of_another_configuration_is_refused_before_anything_is_written(capsys, tmp_path, answers):
    """The folder that conflicts sorts after another task's finished run: that run's
    manifest is not rewritten (it would say `running`) before the conflict is found."""
    root = tmp_path / "r"
    args = ["--backend", "replay", "--model", str(answers), "--label", "m", "--tasks", "zebralogic,math500", "--limit", "2",
            "--data", f"math500={MATH_FIXTURE}", "--data", f"zebralogic={ZEBRA}"]
    assert main(["run", "--out", str(root), "--no-progress", *args]) == 0
    [zebra] = root.glob("*--zebralogic--*")
    manifest = json.loads((zebra / "manifest.json").read_text())
    manifest["config"]["sampling"]["seed"] = 7  # as if another configuration had made this folder
    manifest["config_hash"] = "0" * 64
    (zebra / "manifest.json").write_text(json.dumps(manifest))
    assert fails(capsys, root, *args) == (f"{zebra} belongs to a different configuration (differs in: sampling); "
                                          "use another --out or remove the folder")


JUDGED = ["--backend", "replay", "--tasks", "mt_bench", "--judge-model", "judge-x",
          "--judge-base-url", "http://127.0.0.1:9/v1"]  # never reached: each case stops before any call


def test_malformed_jsonl_names_the_line(capsys, tmp_path, answers):
    data = tmp_path / "questions.jsonl"
    data.write_text('{"question_id": 1, "category": "writing", "turns": ["a", "b"]}\n{"question_id": 2, "turns": [\n')
    assert fails(capsys, tmp_path / "r", *JUDGED, "--model", str(answers), "--data", str(data)) == \
        f"{data} line 2: invalid JSON (Expecting value at column 30)"  # and no ledger file was created


def damaged_ledger(path, how):
    """A real ledger of 300 judgments, then damaged: `garbage` (not SQLite at all) or `page`
    (one page in the middle overwritten, as a bad disk or a partial copy does)."""
    from bolt_eval.judging.ledger import Entry, Ledger

    with Ledger(path) as ledger:
        ledger.put([Entry(f"k{i}", "j", "t", "ok", 5, "rating@1", "x" * 400, "stop", None, 1, 1, 1, 0.1)
                    for i in range(300)])
        ledger.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = bytearray(path.read_bytes())
    if how == "garbage":
        data = bytearray(b"these are not the judgments you are looking for\n" * 100)
    else:
        middle = len(data) // 2 // 4096 * 4096
        data[middle:middle + 4096] = b"\xff" * 4096
    path.write_bytes(bytes(data))
    if how == "garbage":
        return "file is not a database"
    db = sqlite3.connect(path)
    diagnosis = db.execute("PRAGMA quick_check(1)").fetchone()[0].replace("\n", " ")
    db.close()
    return diagnosis


@pytest.mark.parametrize("how", ["garbage", "page"])
def test_a_damaged_ledger_is_named_with_the_way_to_recover_it(capsys, tmp_path, answers, how):
    root = tmp_path / "r"
    root.mkdir()
    path = root / "judgments.sqlite"
    diagnosis = damaged_ledger(path, how)
    assert fails(capsys, root, *JUDGED, "--model", str(answers), "--data", str(ROOT / "tasks" / "mt_bench" / "smoke.jsonl")) == (
        f"{path}: the judgment ledger is damaged ({diagnosis}). Restore it from a backup, or salvage it with "
        f"`sqlite3 {path} .recover | sqlite3 recovered.sqlite` and put that in its place; moving it away starts "
        "an empty ledger (its judgments are then asked, and paid, again)")


def test_a_prompt_longer_than_the_context_fails_the_sample_or_is_cut_as_asked(capsys, tmp_path, tiny_llama):
    """Policy `fail` (default): that sample fails, the other is kept, exit 2; the same command
    with --context-policy truncate resumes the same run folder and cuts it, with a warning."""
    data = tmp_path / "long.jsonl"
    rows = [{"problem": "What is 2+3?", "answer": "5", "subject": "Algebra", "level": 1, "unique_id": "short-1"},
            {"problem": "Solve 2+3 and 7*6; " * 120, "answer": "5", "subject": "Algebra", "level": 1, "unique_id": "long-1"}]
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    args = ["run", "--model", str(tiny_llama), "--tasks", "math500", "--data", str(data), "--max-new-tokens", "8",
            "--out", str(tmp_path / "r"), "--no-progress"]
    capsys.readouterr()
    assert main(args) == 2
    [run] = (tmp_path / "r").iterdir()
    from transformers import AutoTokenizer

    from bolt_eval.benchmarks.math500 import TEMPLATE
    tok = AutoTokenizer.from_pretrained(tiny_llama)
    text = tok.apply_chat_template([{"role": "user", "content": TEMPLATE.format(problem=rows[1]["problem"])}],
                                   tokenize=False, add_generation_prompt=True)
    n = len(tok(text, add_special_tokens=False)["input_ids"])
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"bolt-eval: error: math500: 1 of 2 samples failed, first: long-1: turn 1: the prompt is {n} tokens, more than "
        "the 504 that fit the model's context of 512 tokens with 8 kept for the answer: pass --context-policy truncate "
        f"to cut it from the left, or lower --max-new-tokens. Finished samples are kept in {run}; re-run the same "
        "command to retry the rest")
    assert [json.loads(line)["id"] for line in (run / "samples.jsonl").read_text().splitlines()] == ["short-1"]
    assert json.loads((run / "manifest.json").read_text())["status"] == "incomplete" and not (run / "summary.json").exists()

    assert main([*args, "--context-policy", "truncate"]) == 0
    assert [p.name for p in (tmp_path / "r").iterdir()] == [run.name]  # the same run, resumed
    assert f"bolt-eval: warning: long-1 turn 1: the prompt is {n} tokens, cut to its last 504" in capsys.readouterr().err
    long_turn = json.loads((run / "samples.jsonl").read_text().splitlines()[1])["outputs"][0]["turns"][0]
    assert (long_turn["prompt_tokens"], long_turn["prompt_cut"]) == (504, n - 504)


def test_an_api_model_the_endpoint_does_not_serve(capsys, tmp_path):
    with LoopbackServer(lambda body: "x") as server:
        server.plan = lambda body: Fault(404, body=json.dumps({"error": {
            "message": f"The model `{body['model']}` does not exist", "code": "model_not_found"}}))
        message = fails(capsys, tmp_path / "r", "--backend", "openai", "--model", "gpt-nope", "--base-url",
                        server.base_url, "--tasks", "math500", "--data", str(MATH_FIXTURE), "--limit", "2")
    assert message == (f"the endpoint {server.base_url} does not serve the model 'gpt-nope' (NotFoundError: Error code: "
                       "404 - The model `gpt-nope` does not exist). Check the model name (--model, --judge-model) and "
                       "the endpoint")


GOOD = {"problem": "What is 2+3?", "answer": "5", "subject": "Algebra", "level": 1, "unique_id": "p-1"}


@pytest.mark.parametrize("lines, message", [
    ([{k: v for k, v in GOOD.items() if k != "answer"}], "{data} line 1: field 'answer' missing"),
    ([GOOD, {**GOOD, "unique_id": "p-2", "level": "hard"}], "{data} line 2: field 'level' must be int, got str"),
    ([GOOD, {**GOOD, "problem": 12}], "{data} line 2: field 'problem' must be str, got int"),
    ([GOOD, "not an object"], "{data} line 2: expected a JSON object, got str"),
    ([], "{data}: the file has no records"),
    (["", ""], "{data}: the file has no records"),
    ([GOOD, {**GOOD, "unique_id": "p-2"}, GOOD], "{data} line 3: duplicate id 'p-1' (first at {data} line 1); ids must be unique"),
])
def test_a_data_file_with_a_bad_row(capsys, tmp_path, answers, lines, message):
    data = tmp_path / "data.jsonl"
    data.write_text("".join((json.dumps(r) if r != "" else "") + "\n" for r in lines))
    assert fails(capsys, tmp_path / "r", "--backend", "replay", "--model", str(answers), "--tasks", "math500",
                 "--data", str(data)) == message.format(data=data)


def test_invalid_utf8_names_the_line_and_byte(capsys, tmp_path, answers):
    data = tmp_path / "data.jsonl"
    data.write_bytes(json.dumps(GOOD).encode() + b"\n" + b'{"problem": "caf\xe9"}\n')
    assert fails(capsys, tmp_path / "r", "--backend", "replay", "--model", str(answers), "--tasks", "math500",
                 "--data", str(data)) == f"{data} line 2: not valid UTF-8 (byte {len(json.dumps(GOOD)) + 17}); " \
                                         "re-save the file as UTF-8"


def test_a_replay_answer_of_the_wrong_type(capsys, tmp_path):
    answers = tmp_path / "answers.jsonl"
    answers.write_text(json.dumps({"id": "p-1", "responses": ["one", 2]}) + "\n")
    assert fails(capsys, tmp_path / "r", "--backend", "replay", "--model", str(answers), "--tasks", "math500",
                 "--data", str(MATH_FIXTURE)) == f"{answers} line 1: field 'responses' must be a list of strings"


@pytest.mark.parametrize("model, revision, message", [
    ("./no/such/ckpt", None, "--model ./no/such/ckpt: no such file or folder. Pass an existing checkpoint folder, a "
                             ".gguf file, a hub id like 'org/name' (with --revision), or 'default'"),
    ("no-org/no-model", "v9", r"--model no-org/no-model \(revision v9\) could not be loaded: .+\. Check the id and "
                              r"revision; offline, pass a local checkpoint folder or pre-download the model into the "
                              r"Hugging Face cache"),
])
def test_an_unknown_model_or_revision(capsys, tmp_path, model, revision, message):
    got = fails(capsys, tmp_path / "r", "--model", model, *(["--revision", revision] if revision else []),
                "--tasks", "math500", "--data", str(MATH_FIXTURE), "--limit", "1")
    assert re.fullmatch(message, got) if revision else got == message


def test_a_tokenizer_without_a_chat_template(capsys, tmp_path, tiny_llama_no_template):
    assert fails(capsys, tmp_path / "r", "--model", str(tiny_llama_no_template), "--tasks", "math500", "--data",
                 str(MATH_FIXTURE), "--limit", "1") == (
        f"--model {tiny_llama_no_template}: its tokenizer has no chat template, so conversations cannot be formatted. "
        "Use an instruct/chat checkpoint, or add a chat_template to its tokenizer_config.json")


@pytest.mark.parametrize("verdict", ["Rating: [[eight]]", "Rating: [[11]]", "Rating: [[0]]"])
def test_a_judge_with_non_numeric_or_out_of_range_scores(capsys, tmp_path, answers, verdict):
    """No verdict is made up: each reply is stored as a parse error, none is scored, and the
    run ends judge_failures (exit 2) with its table and summary written, whole."""
    mt = tmp_path / "mt.jsonl"
    mt.write_text("".join(json.dumps({"id": q, "responses": ["a", "b"]}) + "\n" for q in range(9001, 9005)))
    with LoopbackServer(lambda body: verdict) as server:
        rc = main(["run", "--backend", "replay", "--model", str(mt), "--tasks", "mt_bench", "--data",
                   str(ROOT / "tasks" / "mt_bench" / "smoke.jsonl"), "--judge-model", "judge-x", "--judge-base-url",
                   server.base_url, "--judge-parse-retries", "0", "--out", str(tmp_path / "r"), "--no-progress"])
    assert rc == 2 and capsys.readouterr().err.splitlines()[-1] == (
        "bolt-eval: error: mt_bench: judge_failures: 0 of 8 judgments have a verdict ({'parse_error': 8}), worse "
        "than --max-judge-failures 0.0. Failures stay in the ledger; re-run to ask again")
    [run] = (tmp_path / "r").glob("*--mt_bench--*")
    summary = json.loads((run / "summary.json").read_text())
    assert summary["coverage"] == {"judged": 0, "total": 8, "rate": 0.0, "by_status": {"parse_error": 8}}
    db = sqlite3.connect(tmp_path / "r" / "judgments.sqlite")
    assert db.execute("SELECT DISTINCT status, verdict, raw FROM judgments").fetchall() == [("parse_error", None, verdict)]


def test_a_run_whose_every_sample_fails_leaves_no_folder(capsys, tmp_path):
    answers = tmp_path / "answers.jsonl"
    answers.write_text(json.dumps({"id": "not-a-math500-id", "response": "\\boxed{1}"}) + "\n")
    assert fails(capsys, tmp_path / "r", "--backend", "replay", "--model", str(answers), "--tasks", "math500",
                 "--data", str(MATH_FIXTURE), "--limit", "2") == (
        f"math500: 2 of 2 samples failed, first: {MATH_IDS[0]}: {answers}: no recorded answer for id "
        f"'{MATH_IDS[0]}' turn 1. Nothing finished; re-run the same command to retry")
