"""Security rules, each tried the way it could be broken: API keys (from the environment or
a file) reach the server and nothing else, even when the server echoes them in an error."""

from __future__ import annotations

import json
import sqlite3

from conftest import MATH_FIXTURE
from openai_server import Fault, LoopbackServer
from scripted_world import CANDIDATE, JUDGE, cli_args, reply

from bolt_eval.cli import main

CAND_KEY, JUDGE_KEY = "sk-cand-SENTINEL-4f1e9a0c", "sk-judge-SENTINEL-77c2d0b5"


def test_api_keys_reach_the_server_and_no_file_log_or_message(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CAND_KEY_VAR", CAND_KEY)
    key_file = tmp_path / "judge.key"
    key_file.write_text(JUDGE_KEY + "\n")
    root, refuse = tmp_path / "r", {CANDIDATE: 10**6, JUDGE: 0}  # requests to answer with a 401 echoing the key

    with LoopbackServer(reply) as server:
        def echo_key(body):
            if refuse[body["model"]] <= 0:
                return None
            refuse[body["model"]] -= 1
            key = server.auth_headers[-1].removeprefix("Bearer ")
            return Fault(401, body=json.dumps({"error": {"message": f"Incorrect API key provided: {key}",
                                                         "code": "invalid_api_key"}}))

        server.plan = echo_key
        args = [*cli_args(root, server.base_url, ["mt_bench"], 4), "--api-key-env", "CAND_KEY_VAR",
                "--judge-api-key-file", str(key_file)]
        assert main(args) == 2  # every candidate request refused: the run stops and says why
        first = capsys.readouterr()
        assert "refused the API key (AuthenticationError: Error code: 401" in first.err
        assert "Incorrect API key provided: [API key]" in first.err
        refuse.update({CANDIDATE: 0, JUDGE: 1})  # now one judge call is refused: stored as a failure
        assert main(args) == 0
        db = sqlite3.connect(root / "judgments.sqlite")
        [(error,)] = db.execute("SELECT error FROM judgments WHERE status = 'api_error'").fetchall()
        db.close()
        assert "Incorrect API key provided: [API key]" in error
        assert main(args) == 0  # asked again, answered
        rest = capsys.readouterr()
    assert {h for h in server.auth_headers} == {f"Bearer {CAND_KEY}", f"Bearer {JUDGE_KEY}"}
    assert {(b["model"], h) for b, h in zip(server.requests, server.auth_headers)} == \
        {(CANDIDATE, f"Bearer {CAND_KEY}"), (JUDGE, f"Bearer {JUDGE_KEY}")}
    files = [p for p in root.rglob("*") if p.is_file()]
    assert {p.name for p in files} >= {"judgments.sqlite", ".lock", "manifest.json", "samples.jsonl", "judgments.jsonl",
                                       "summary.json"}
    for text in [p.read_bytes() for p in files] + [(o.out + o.err).encode() for o in (first, rest)]:
        assert CAND_KEY.encode() not in text and JUDGE_KEY.encode() not in text


def test_an_unreadable_key_file_is_named_before_anything_runs(capsys, tmp_path):
    args = ["run", "--backend", "openai", "--model", "m", "--api-key-file", str(tmp_path / "missing.key"),
            "--tasks", "math500", "--data", str(MATH_FIXTURE), "--out", str(tmp_path / "r")]
    assert main(args) == 2 and not (tmp_path / "r").exists()
    assert capsys.readouterr().err == (f"bolt-eval: error: API key file {tmp_path / 'missing.key'}: cannot read it "
                                       "(No such file or directory); name a file that holds the key\n")
