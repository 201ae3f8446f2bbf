"""SIGKILL a real `bolt-eval run` at seeded random moments (while it generates, while it
judges, while it writes its results), re-run it after each kill, and require what an
uninterrupted run gives: the same summary bytes, no corrupt or duplicate line, and no
call paid twice for an answer or a judgment that was already stored."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter

from conftest import cli_env
from openai_server import LoopbackServer
from scripted_world import CANDIDATE, DATA, JUDGE, cli_args, reply, summaries

from bolt_eval.backends.base import BackendSpec
from bolt_eval.backends.openai_api import OpenAIBackend
from bolt_eval.judging.ledger import judgment_key
from bolt_eval.registry import benchmarks
from bolt_eval.types import SamplingParams

TASKS, LIMIT, KILLS = ["mt_bench", "wildbench"], 8, 21


def stored_ok(root):
    if not (root / "judgments.sqlite").exists():
        return set()
    db = sqlite3.connect(f"file:{root / 'judgments.sqlite'}?mode=ro", uri=True)
    try:
        tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        # a kill between creating the file and its table leaves an empty ledger: nothing stored
        return {k for (k,) in db.execute("SELECT key FROM judgments WHERE status = 'ok'")} if "judgments" in tables else set()
    finally:
        db.close()


def stored_samples(root):
    """(task, sample id) of every complete line; a torn last line is not stored."""
    out = set()
    for path in root.glob("*/samples.jsonl"):
        for line in path.read_bytes().split(b"\n")[:-1]:
            out.add((path.parent.name.split("--")[1], json.loads(line)["id"]))
    return out


def sample_of():
    """A candidate request's first user message -> (task, sample id)."""
    out = {}
    for name in TASKS:
        task = benchmarks.get(name)(data=str(DATA[name]))
        out.update({task.prompt(s, 0): (name, s.id) for s in task.load().samples[:LIMIT]})
    return out


def phase(root, since, n_samples, n_judgments):
    """Where a kill landed, read from what it left: a run opens (and rewrites) its folders'
    manifests once started, then generates, then judges, then writes its results."""
    if not any(p.stat().st_mtime >= since for p in root.glob("*/manifest.json")):
        return "starting"
    if len(stored_samples(root)) < n_samples:
        return "generating"
    if len(stored_ok(root)) < n_judgments:
        return "judging"
    return "writing results"


def wait_for(proc, condition, deadline=60.0):
    t0 = time.monotonic()
    while proc.poll() is None and not condition() and time.monotonic() - t0 < deadline:
        time.sleep(0.005)


def test_at_least_twenty_one_kills_resume_to_the_bytes_of_an_uninterrupted_run(tmp_path):
    rng = random.Random(2026)
    lookup = sample_of()
    with LoopbackServer(reply, latency_s=0.05) as server:
        def requests_since(start, model):
            return [b for b in server.requests[start:] if b["model"] == model]

        def bolt(root):
            log = open(tmp_path / f"stderr-{len(server.requests)}-{time.monotonic_ns()}", "w+")
            return subprocess.Popen([sys.executable, "-m", "bolt_eval.cli", *cli_args(root, server.base_url, TASKS, LIMIT)],
                                    env=cli_env(), stdout=subprocess.DEVNULL, stderr=log, start_new_session=True), log

        clean, log = bolt(tmp_path / "clean")
        assert clean.wait(120) == 0
        log.close()
        expected = summaries(tmp_path / "clean")
        n_samples, all_keys = len(stored_samples(tmp_path / "clean")), stored_ok(tmp_path / "clean")
        assert len(expected) == 2 and n_samples == 4 + LIMIT and len(all_keys) == 4 * 2 + LIMIT * 3

        kills, phases, torn, rounds, paid_again, target = 0, Counter(), 0, 0, [], ""
        while kills < KILLS or target != "never":
            rounds += 1
            root = tmp_path / f"round-{rounds}"
            while True:
                before_keys, before_samples, start = stored_ok(root), stored_samples(root), len(server.requests)
                since = time.time()
                proc, log = bolt(root)
                pending = len(before_samples) < n_samples, len(before_keys) < len(all_keys)
                target = rng.choice(["generate"] * pending[0] + ["judge"] * pending[1] + ["write", "anytime"])
                if kills == KILLS:
                    target = "never"  # the last round ends with a run left to finish
                if target == "generate":
                    k = rng.randint(1, 6)
                    wait_for(proc, lambda: len(requests_since(start, CANDIDATE)) >= k)
                elif target == "judge":
                    k = rng.randint(1, 10)
                    wait_for(proc, lambda: len(requests_since(start, JUDGE)) >= k)
                elif target == "write":
                    left = len(all_keys) - len(before_keys)
                    wait_for(proc, lambda: len(requests_since(start, JUDGE)) >= left)
                    time.sleep(rng.uniform(0.0, 0.15))
                elif target == "anytime":  # once it is past its imports (a kill before them proves nothing)
                    wait_for(proc, lambda: len(server.requests) > start or stored_samples(root) != before_samples)
                    wait_for(proc, lambda: False, deadline=rng.uniform(0.0, 0.8))
                else:
                    wait_for(proc, lambda: False, deadline=120)
                killed = proc.poll() is None
                if killed:
                    os.killpg(proc.pid, signal.SIGKILL)
                rc = proc.wait()
                log.seek(0)
                torn += "dropping a torn last line" in log.read()
                log.close()
                # no candidate call for a stored answer; judge calls are checked against the ledger below
                assert not [b for b in requests_since(start, CANDIDATE)
                            if lookup[next(m["content"] for m in b["messages"] if m["role"] == "user")] in before_samples]
                paid_again.append((before_keys, requests_since(start, JUDGE)))
                if not killed:
                    assert rc == 0
                    break
                kills += 1
                phases[phase(root, since, n_samples, len(all_keys))] += 1
            assert summaries(root) == expected  # byte for byte
            for path in root.glob("*/samples.jsonl"):
                ids = [json.loads(line)["id"] for line in path.read_text().splitlines()]  # every line whole
                assert len(ids) == len(set(ids))
        # each judge request -> its judgment key (the templates are the ledger's): none was already stored
        db = sqlite3.connect(tmp_path / "round-1" / "judgments.sqlite")
        templates = {t for (t,) in db.execute("SELECT DISTINCT template FROM judgments")}
        judge_id = json.dumps(OpenAIBackend.identity(BackendSpec("openai", JUDGE, base_url=server.base_url)),
                              sort_keys=True)
        params = SamplingParams(temperature=0.0, max_new_tokens=2048).to_dict()
        for before_keys, bodies in paid_again:
            for body in bodies:
                [key] = [k for t in templates if (k := judgment_key(judge_id, t, body["messages"], params)) in all_keys]
                assert key not in before_keys
    assert phases["generating"] and phases["judging"] and phases["writing results"]
    print(f"\n{kills} kills in {rounds} rounds, landed while {dict(phases)}; torn lines repaired: {torn}")
