"""A real `bolt-eval run --judge-mode batch` SIGKILLed at every point of a batch's life,
re-run after each kill: after the upload (before its file id was recorded), before the
batch is created, after it is created (before its id was recorded), while it is polled,
and mid-download. The runs end with one upload, one batch, and the ledger a live run
leaves on the same scripted verdicts: nothing sent twice, no judgment lost."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time

from conftest import cli_env
from openai_batch_server import BatchServer
from scripted_world import cli_args, eval_config, reply, summaries
from test_batch import ledger

from bolt_eval.runner import evaluate


def job_states(root):
    db = sqlite3.connect(f"file:{root / 'judgments.sqlite'}?mode=ro", uri=True)
    try:
        return [tuple(r) for r in db.execute("SELECT state, input_file_id IS NOT NULL, batch_id IS NOT NULL "
                                             "FROM batch_jobs")]
    finally:
        db.close()


def wait_until(condition, proc, point, deadline=120.0):
    t0 = time.monotonic()
    while not condition():
        assert proc.poll() is None, f"the run ended before the kill point {point}"
        assert time.monotonic() - t0 < deadline, "the kill point was never reached"
        time.sleep(0.01)


def test_killed_at_every_point_of_a_batch_a_rerun_sends_nothing_twice_and_loses_nothing(tmp_path):
    with BatchServer(reply) as server:
        evaluate(eval_config(tmp_path / "live", server.base_url, ["mt_bench"]))
        root = tmp_path / "batch"
        args = [*cli_args(root, server.base_url, ["mt_bench"], 4), "--judge-mode", "batch",
                "--batch-poll-interval", "0.05"]

        def bolt():
            return subprocess.Popen([sys.executable, "-m", "bolt_eval.cli", *args], env=cli_env(),
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)

        # (kill point, what the ledger says of the job after the kill)
        points = [("upload", ("prepared", 0, 0)), ("create", ("uploaded", 1, 0)), ("created", ("uploaded", 1, 0)),
                  ("poll", ("submitted", 1, 1)), ("download", ("submitted", 1, 1))]
        for point, state in points:
            polls = server.batch_polls
            if point == "poll":
                server.hold = True
                reached = None
            else:
                reached = server.trap(point)
            proc = bolt()
            wait_until(lambda: reached.is_set() if reached else server.batch_polls > polls + 1, proc, point)
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            server.release()
            server.hold = False
            assert job_states(root) == [state], point
            assert ledger(root) == {}, point
        assert (server.uploads, server.created) == (1, 1)

        proc = bolt()
        assert proc.wait(120) == 0
        assert (server.uploads, server.created) == (1, 1)  # re-attached each time: one file, one batch
        assert job_states(root) == [("collected", 1, 1)]
        assert ledger(root) == ledger(tmp_path / "live")
        assert summaries(root) == summaries(tmp_path / "live")
