"""Kill -9 a real `bolt-eval run` mid-way, run it again, and get the same summary bytes."""

import json
import os
import signal
import subprocess
import sys
import time

from conftest import MATH_FIXTURE, cli_env
from openai_server import LoopbackServer

REFS = {json.loads(line)["problem"]: json.loads(line)["answer"] for line in MATH_FIXTURE.read_text().splitlines()}


def scripted(body):
    """Right on every other problem, deterministically."""
    problem = next(p for p in REFS if p in body["messages"][-1]["content"])
    return f"\\boxed{{{REFS[problem] if len(problem) % 2 else '999'}}}"


def command(server, out):
    return [sys.executable, "-m", "bolt_eval.cli", "run", "--backend", "openai", "--model", "m",
            "--base-url", server.base_url, "--concurrency", "2", "--batch-size", "1", "--tasks", "math500",
            "--data", str(MATH_FIXTURE), "--out", str(out), "--no-progress"]


def lines(out):
    files = list(out.glob("*/samples.jsonl"))
    return len(files[0].read_text().splitlines()) if files else 0


def test_killed_runs_resume_to_identical_summary(tmp_path):
    with LoopbackServer(scripted, latency_s=0.05) as server:
        clean = subprocess.run(command(server, tmp_path / "clean"), env=cli_env(), capture_output=True, text=True)
        assert clean.returncode == 0, clean.stderr
        calls_clean = len(server.requests)
        assert calls_clean == len(REFS)

        out = tmp_path / "killed"
        for kill_at in (4, 13, 25):
            proc = subprocess.Popen(command(server, out), env=cli_env(), stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL, start_new_session=True)
            deadline = time.time() + 60
            while lines(out) < kill_at and proc.poll() is None and time.time() < deadline:
                time.sleep(0.01)
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        final = subprocess.run(command(server, out), env=cli_env(), capture_output=True, text=True)
        assert final.returncode == 0, final.stderr

    (a,) = (tmp_path / "clean").iterdir()
    (b,) = out.iterdir()
    assert a.name == b.name
    assert (a / "summary.json").read_bytes() == (b / "summary.json").read_bytes()
    ids = [json.loads(line)["id"] for line in (b / "samples.jsonl").read_text().splitlines()]
    assert len(ids) == len(set(ids)) == len(REFS)
    assert json.loads((a / "summary.json").read_text())["metrics"]["accuracy"]["mean"] == round(
        sum(len(p) % 2 for p in REFS) / len(REFS), 6)
    # each kill loses at most the chunk in flight (2 requests)
    assert len(server.requests) - calls_clean <= len(REFS) + 3 * 2
