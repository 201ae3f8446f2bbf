"""Two `bolt-eval run`s writing one results root and one ledger at the same time: neither
corrupts the other, a run that must wait says for whom, runs that list the same tasks in
another order do not deadlock, and a stored judgment is never paid for again."""

from __future__ import annotations

import fcntl
import os
import sqlite3
import subprocess
import sys
import time
from collections import Counter

import pytest
from conftest import cli_env
from openai_server import LoopbackServer
from scripted_world import JUDGE, cli_args, reply, summaries

from bolt_eval.judging import ledger as ledger_module
from bolt_eval.judging.ledger import Entry, Ledger
from bolt_eval.types import UserError

TASKS = ["mt_bench", "wildbench"]


def start(args):
    return subprocess.Popen([sys.executable, "-m", "bolt_eval.cli", *args], env=cli_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def finish(*procs):
    outs = [p.communicate(timeout=180) for p in procs]  # a deadlock fails here
    assert [p.returncode for p in procs] == [0] * len(procs), [err for _, err in outs]
    return [err for _, err in outs]


def ledger_rows(root):
    db = sqlite3.connect(root / "judgments.sqlite")
    assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    rows = dict(db.execute("SELECT key, status FROM judgments").fetchall())
    db.close()
    return rows


def test_the_same_tasks_in_two_orders_at_once_one_waits_and_nothing_is_paid_twice(tmp_path):
    with LoopbackServer(reply, latency_s=0.05) as server:
        finish(start(cli_args(tmp_path / "clean", server.base_url, TASKS, 6)))
        clean_calls = Counter(b["model"] for b in server.requests)
        shared, begin = tmp_path / "shared", len(server.requests)
        a = start(cli_args(shared, server.base_url, TASKS, 6))
        b = start(cli_args(shared, server.base_url, TASKS[::-1], 6))
        errs = finish(a, b)
        calls = Counter(body["model"] for body in server.requests[begin:])
    waited = [(err, other.pid) for err, other in zip(errs, (b, a)) if "waiting" in err]
    assert len(waited) == 1  # one ran, the other waited for all of it, then found everything done
    err, holder = waited[0]
    assert (f"is being written by another bolt-eval run (pid {holder}); waiting for it to finish "
            "(Ctrl-C stops waiting; nothing is lost)") in err
    assert calls == clean_calls  # every answer and judgment paid once
    assert summaries(shared) == summaries(tmp_path / "clean")
    assert set(ledger_rows(shared).values()) == {"ok"}


def test_two_configurations_share_a_root_and_ledger_at_once(tmp_path):
    with LoopbackServer(reply, latency_s=0.05) as server:
        finish(start(cli_args(tmp_path / "clean", server.base_url, TASKS, 6)))
        shared = tmp_path / "shared"
        finish(start([*cli_args(shared, server.base_url, TASKS, 6), "--label", "first"]),
               start([*cli_args(shared, server.base_url, TASKS[::-1], 6), "--label", "second"]))
    by_task = {}
    for name, data in summaries(shared).items():
        by_task.setdefault(name.split("--")[1], set()).add(data)
    assert {t: {d} for t, d in ((n.split("--")[1], d) for n, d in summaries(tmp_path / "clean").items())} == by_task
    assert ledger_rows(shared) == ledger_rows(tmp_path / "clean")  # the same judgments, each once, all ok
    assert sorted(p.name.split("--")[0] for p in shared.iterdir() if p.is_dir()) == ["first"] * 2 + ["second"] * 2


def test_a_waiting_run_holds_no_other_folder_so_two_orders_cannot_deadlock(tmp_path):
    """Folders are locked in one order (by run id) whatever the order of --tasks: a run
    that waits for the first holds none of the others, so two runs cannot each hold what
    the other waits for."""
    with LoopbackServer(reply) as server:
        finish(start(cli_args(tmp_path, server.base_url, TASKS, 2)))
        first, second = sorted(p for p in tmp_path.iterdir() if p.is_dir())
        with open(first / ".lock", "a+") as held:
            fcntl.flock(held, fcntl.LOCK_EX)
            held.truncate(0)
            held.write(str(os.getpid()))
            held.flush()
            procs = []
            try:
                for order, log in zip((TASKS[::-1], TASKS), (tmp_path / "a.log", tmp_path / "b.log")):
                    procs.append(subprocess.Popen([sys.executable, "-m", "bolt_eval.cli",
                                                   *cli_args(tmp_path, server.base_url, order, 2)],
                                                  env=cli_env(), stdout=subprocess.DEVNULL, stderr=open(log, "w")))
                    deadline = time.monotonic() + 60
                    while "waiting" not in log.read_text() and time.monotonic() < deadline:
                        time.sleep(0.05)
                    assert f"{first} is being written by another bolt-eval run (pid {os.getpid()})" in log.read_text()
                    with open(second / ".lock", "a+") as free:
                        fcntl.flock(free, fcntl.LOCK_EX | fcntl.LOCK_NB)  # raises if a waiting run holds it
            except BaseException:
                for proc in procs:
                    proc.kill()
                raise
        assert [p.wait(timeout=60) for p in procs] == [0, 0]


def test_a_ledger_locked_for_too_long_names_the_file_and_what_to_do(tmp_path, monkeypatch):
    path = tmp_path / "judgments.sqlite"
    entry = Entry("k", JUDGE, "t@1", "ok", 5.0, "rating@1", "[[5]]", "stop", None, 1, 1, 1, 0.1)
    with Ledger(path) as ledger:
        ledger.put([entry])
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process in the middle of a write, for ever
    monkeypatch.setattr(ledger_module, "LOCK_TIMEOUT_S", 0.5)
    with Ledger(path) as ledger, pytest.raises(UserError) as err:
        ledger.put([entry])
    holder.rollback()
    assert str(err.value) == (f"{path}: the judgment ledger stayed locked by another process for 0.5 s "
                              "(database is locked); re-run when that process has finished")
