"""Security rules, each tried the way it could be broken: API keys (from the environment or
a file) reach the server and nothing else, even when the server echoes them in an error;
model code runs only with --trust-remote-code; no pickle is run; run folders stay inside
the results root."""

from __future__ import annotations

import ast
import json
import os
import pickle
import shutil
import sqlite3

import pytest
from conftest import MATH_FIXTURE, ROOT, build_tiny_llama
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


def evil_code_folder(path, marker):
    """A checkpoint whose config asks for its own Python code, which would leave `marker`."""
    path.mkdir()
    (path / "config.json").write_text(json.dumps({"model_type": "evil-custom", "auto_map": {
        "AutoConfig": "evil.EvilConfig", "AutoModelForCausalLM": "evil.EvilModel"}}))
    (path / "tokenizer_config.json").write_text(json.dumps({"auto_map": {"AutoTokenizer": ["evil.EvilTokenizer", None]}}))
    (path / "evil.py").write_text(f"open({str(marker)!r}, 'w').write('ran')\n")
    return path


@pytest.mark.parametrize("role", ["candidate", "judge"])
def test_model_code_runs_only_with_trust_remote_code(capsys, tmp_path, role):
    marker, model = tmp_path / "RAN", evil_code_folder(tmp_path / "evil", tmp_path / "RAN")
    answers = tmp_path / "answers.jsonl"
    answers.write_text("".join(json.dumps({"id": q, "responses": ["a", "b"]}) + "\n" for q in range(9001, 9005)))
    use = (["--model", str(model), "--tasks", "math500", "--data", str(MATH_FIXTURE), "--limit", "1"]
           if role == "candidate" else ["--backend", "replay", "--model", str(answers), "--tasks", "mt_bench",
                                        "--data", str(ROOT / "tasks" / "mt_bench" / "smoke.jsonl"), "--judge-model", str(model)])
    assert main(["run", *use, "--out", str(tmp_path / "r"), "--no-progress"]) == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"bolt-eval: error: --model {model} needs its own Python code to load, and bolt-eval runs none unless told: "
        "read that code, then pass --trust-remote-code if you trust it")
    assert not marker.exists()
    files = {p.name: p for p in (tmp_path / "r").rglob("*") if p.is_file()}
    if role == "candidate":
        assert files == {}  # a failed start leaves nothing
    else:  # the answers were made before the judge was needed: kept, whole, for the next run
        assert sorted(files) == [".lock", "manifest.json", "samples.jsonl"]
        assert [json.loads(line)["id"] for line in files["samples.jsonl"].read_text().splitlines()] == \
            ["9001", "9002", "9003", "9004"]


class Payload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def pickled_checkpoint(path, marker):
    """A real checkpoint whose weights are a pickle that would create `marker` when loaded."""
    build_tiny_llama(path)
    for f in path.glob("*.safetensors"):
        f.unlink()
    with open(path / "pytorch_model.bin", "wb") as fh:
        pickle.dump({"model.embed_tokens.weight": Payload(str(marker))}, fh)
    return path


def test_no_pickle_is_run_local_or_from_the_hub(capsys, tmp_path, monkeypatch):
    marker = tmp_path / "UNPICKLED"
    local = pickled_checkpoint(tmp_path / "ckpt", marker)
    args = ["--tasks", "math500", "--data", str(MATH_FIXTURE), "--limit", "1", "--out", str(tmp_path / "r"),
            "--no-progress"]
    assert main(["run", "--model", str(local), *args]) == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"bolt-eval: error: --model {local}: its .bin weights hold more than tensors (they are read with "
        "torch.load(weights_only=True), which runs no code): convert the checkpoint to safetensors")
    # the same files as a hub model in the (offline) Hugging Face cache: not even read
    import huggingface_hub.constants

    repo = tmp_path / "hub" / "models--someone--pickled"
    shutil.copytree(local, repo / "snapshots" / ("a" * 40))
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("a" * 40)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    assert main(["run", "--model", "someone/pickled", *args]) == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        "bolt-eval: error: --model someone/pickled (revision main) has no safetensors weights, and bolt-eval loads "
        "weights made by others only as safetensors (.bin files are pickles): choose a revision that has them, or "
        "convert a copy you trust and pass its folder")
    assert not marker.exists() and not [p for p in (tmp_path / "r").rglob("*") if p.is_file()]


def test_the_engine_calls_no_unpickler():
    """bolt-eval's own code never loads a pickle (numpy, pandas, torch, joblib or pickle itself)."""
    banned = {("pickle", "load"), ("pickle", "loads"), ("torch", "load"), ("joblib", "load"), ("pd", "read_pickle"),
              ("pandas", "read_pickle"), ("dill", "load"), ("cloudpickle", "load"), ("marshal", "load")}
    found = []
    for path in sorted((ROOT / "bolt_eval").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                owner = node.func.value.id if isinstance(node.func.value, ast.Name) else None
                if (owner, node.func.attr) in banned or any(
                        k.arg == "allow_pickle" and getattr(k.value, "value", False) for k in node.keywords):
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert found == []


def test_names_cannot_place_a_run_outside_the_results_root(capsys, tmp_path):
    answers = tmp_path / "answers.jsonl"
    rows = [json.loads(line) for line in MATH_FIXTURE.read_text().splitlines()[:1]]
    answers.write_text(json.dumps({"id": rows[0]["unique_id"], "response": "\\boxed{1}"}) + "\n")
    root, outside = tmp_path / "r", tmp_path / "outside"
    outside.mkdir()
    base = ["run", "--backend", "replay", "--model", str(answers), "--tasks", "math500", "--data", str(MATH_FIXTURE),
            "--limit", "1", "--out", str(root), "--no-progress"]
    for label in ("../outside", "../../../../../tmp/x", "/etc", "..", "a/../../b"):
        assert main([*base, "--label", label]) == 0
    assert sorted(p.name.split("--")[0] for p in root.iterdir() if p.is_dir()) == ["a_.._.._b", "etc", "model",
                                                                                    "outside", "tmp_x"]
    assert list(outside.iterdir()) == [] and sorted(p.name for p in tmp_path.iterdir()) == ["answers.jsonl",
                                                                                         "outside", "r"]
    # a run folder that is a link out of the root is refused, and nothing is written through it
    [run] = root.glob("outside--*")
    shutil.rmtree(run)
    os.symlink(outside, run)
    capsys.readouterr()
    assert main([*base, "--label", "../outside"]) == 2
    assert capsys.readouterr().err == f"bolt-eval: error: run id {run.name!r} would escape the results root {root}\n"
    assert list(outside.iterdir()) == []
