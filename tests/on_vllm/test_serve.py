"""`vllm serve` started by bolt-eval: a whole smoke evaluation with the model judging itself
in one managed server, and no server left behind on error, Ctrl-C or SIGTERM.
(A SIGKILL of bolt-eval leaves the server only the kernel's SIGTERM, PR_SET_PDEATHSIG, which
a vLLM server still starting up can outlive: not tested, see the README.)"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psutil
import pytest
from conftest import ENGINE_FLAGS

ROOT = Path(__file__).resolve().parents[2]
SERVED = ["--backend", "vllm-serve", *ENGINE_FLAGS]
ONE_PROBLEM = ["--tasks", "math500", "--data", str(ROOT / "tasks" / "math500" / "fixture.jsonl"), "--limit", "1"]


def bolt_eval(*args: str) -> list[str]:
    return [sys.executable, "-m", "bolt_eval.cli", "run", "--model", "default", "--no-progress", *args]


@pytest.fixture
def marked() -> dict[str, str]:
    """An environment whose mark every process bolt-eval starts inherits (servers, engine
    processes), so leftovers are found whatever they are named."""
    return {**os.environ, "BOLT_EVAL_TEST_MARK": uuid.uuid4().hex}


def processes(env: dict[str, str]) -> list[psutil.Process]:
    found = []
    for p in psutil.process_iter():
        try:
            if p.environ().get("BOLT_EVAL_TEST_MARK") == env["BOLT_EVAL_TEST_MARK"]:
                found.append(p)
        except (psutil.AccessDenied, psutil.NoSuchProcess, psutil.ZombieProcess):
            continue
    return found


def wait_until_gone(env: dict[str, str], timeout_s: float = 60.0) -> list[psutil.Process]:
    deadline = time.monotonic() + timeout_s
    while (left := processes(env)) and time.monotonic() < deadline:
        time.sleep(0.5)
    return left


def test_smoke_suite_with_the_served_model_as_its_own_judge(tmp_path: Path, marked: dict[str, str]) -> None:
    out = tmp_path / "results"
    # one item of each task, short answers, and one-token judge replies that never hold a
    # verdict, so that every verdict is the server's guided choice (structured outputs
    # through `extra_body`); the judge is the candidate's own server
    done = subprocess.run(bolt_eval("--suite", "smoke", "--limit", "1", "--max-new-tokens", "64",
                                    "--judge-max-new-tokens", "1", "--judge-parse-retries", "0",
                                    "--out", str(out), *SERVED, "--judge-backend", "vllm-serve",
                                    *(f"--judge-{f[2:]}" for f in ENGINE_FLAGS if f.startswith("--engine-option"))),
                          capture_output=True, text=True, cwd=ROOT, timeout=1200, env=marked)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stderr.count("vllm serve ready") == 1  # one server for both roles
    manifests = {m.parent.name.split("--")[1]: json.loads(m.read_text()) for m in out.glob("*/manifest.json")}
    assert sorted(manifests) == ["arena_hard", "math500", "mt_bench", "wildbench", "zebralogic"]
    for task, m in manifests.items():
        assert m["status"] == "complete", task
        assert m["provenance"]["backend"] == "vllm-serve"
        assert m["provenance"]["engine_options"]["max_model_len"] == 2048
    judged = [t for t, m in manifests.items() if m["config"].get("judge")]
    assert sorted(judged) == ["arena_hard", "mt_bench", "wildbench"]
    assert all(manifests[t]["config"]["judge"]["model"]["backend"] == "vllm-serve" for t in judged)
    with sqlite3.connect(out / "judgments.sqlite") as db:
        rows = db.execute("SELECT status, method, verdict, completion_tokens FROM judgments").fetchall()
    assert len(rows) == 2 + 2 + 3  # MT-Bench's two turns, Arena-Hard's two orders, WildBench's score + 2 battles
    assert all(status == "ok" and method == "constrained" and json.loads(verdict) is not None and tokens == 1
               for status, method, verdict, tokens in rows), rows
    assert wait_until_gone(marked, 30) == []


def test_a_server_that_fails_to_start_shows_its_log(tmp_path: Path, marked: dict[str, str]) -> None:
    done = subprocess.run(bolt_eval(*ONE_PROBLEM, "--out", str(tmp_path), *SERVED,
                                    "--engine-option", "max_model_len=not-a-number"),
                          capture_output=True, text=True, cwd=ROOT, timeout=300, env=marked)
    assert done.returncode == 2
    assert "before it was ready. Its log ends:" in done.stderr and "max-model-len" in done.stderr
    assert wait_until_gone(marked, 30) == []


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "term"])
def test_no_orphan_server_when_bolt_eval_is_stopped(tmp_path: Path, sig: signal.Signals,
                                                    marked: dict[str, str]) -> None:
    proc = subprocess.Popen(bolt_eval(*ONE_PROBLEM, "--out", str(tmp_path), *SERVED),
                            stderr=subprocess.PIPE, text=True, cwd=ROOT, env=marked)
    assert proc.stderr is not None
    for line in proc.stderr:
        if "starting `vllm serve" in line:
            break
    deadline = time.monotonic() + 120
    while len(processes(marked)) < 3:  # bolt-eval, the API server and at least one engine process
        assert time.monotonic() < deadline, "the server never started its engine"
        time.sleep(0.5)
    proc.send_signal(sig)
    rc = proc.wait(120)
    assert rc == 130, proc.stderr.read()[-3000:]  # once 0 (a race not found): what bolt-eval said then
    assert wait_until_gone(marked) == []
