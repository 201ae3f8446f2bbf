"""`--judge-mode batch` against a loopback Files/Batches server: the ledger a batch run
leaves equals the live run's on the same scripted verdicts; parse retries go into a
follow-up batch or live; splitting at a small limit; expiry, failed lines and a failed
batch leave exactly their judgments pending; `--no-wait` stops with exit 3 and a re-run
collects the same batch; --dry-run prices judge calls at the batch rate."""

from __future__ import annotations

import hashlib
import re
import json
import sqlite3
from dataclasses import replace

import pytest
from openai_batch_server import BatchServer
from scripted_world import JUDGE, eval_config, reply, summaries

from bolt_eval.dryrun import dry_run
from bolt_eval.judging.batch import BatchIncomplete, BatchPending, BatchSettings
from bolt_eval.runner import evaluate

TASKS = ["mt_bench", "wildbench"]
N_KEYS = 4 * 2 + 24 * 3  # MT-Bench: 2 turns x 4; WildBench: score + 2 battles x 24
FAST = BatchSettings(poll_interval_s=0.01)


def flaky_reply(body):
    """The scripted world, except that a quarter of the judge's first asks (seed 0) get a
    reply without a verdict; asked again (another seed) it gives one."""
    h = int(hashlib.sha256(json.dumps(body["messages"]).encode()).hexdigest()[:8], 16)
    if body["model"] == JUDGE and body.get("seed") == 0 and h % 4 == 0:
        return "I cannot decide on a verdict here."
    return reply(body)


def ledger(root):
    """Every ledger row, without what differs between a live and a batch run (timing)."""
    db = sqlite3.connect(root / "judgments.sqlite")
    db.row_factory = sqlite3.Row
    rows = {r["key"]: {k: r[k] for k in r.keys() if k not in ("latency_s", "updated")}
            for r in db.execute("SELECT * FROM judgments")}
    db.close()
    return rows


def jobs(root):
    db = sqlite3.connect(root / "judgments.sqlite")
    rows = db.execute("SELECT state, batch_id, requests FROM batch_jobs ORDER BY created, job").fetchall()
    db.close()
    return rows


def batch_config(root, base_url, settings=FAST, tasks=TASKS):
    return replace(eval_config(root, base_url, tasks), batch=settings)


def judge_chats(server):
    return [b for b in server.chat_requests if b["model"] == JUDGE]


def test_a_batch_run_leaves_the_ledger_and_summaries_of_a_live_run(tmp_path):
    with BatchServer(flaky_reply) as server:  # one endpoint: the judge's identity (and keys) include its URL
        evaluate(eval_config(tmp_path / "live", server.base_url, TASKS))
        live_calls = len(judge_chats(server))
        results = evaluate(batch_config(tmp_path / "batch", server.base_url))
        want, got = ledger(tmp_path / "live"), ledger(tmp_path / "batch")
        assert len(want) == N_KEYS - 1  # two WildBench battles share a prompt
        retried = {k for k, e in want.items() if e["attempts"] == 2}
        assert retried and all(e["status"] == "ok" for e in want.values())
        assert got == want  # same keys, statuses, verdicts, raw replies, attempts and token counts
        assert summaries(tmp_path / "batch") == summaries(tmp_path / "live")
        # one batch, then a follow-up batch of exactly the replies without a verdict; no live judge call
        assert server.created == 2 and len(judge_chats(server)) == live_calls
        first, follow_up = [[line["custom_id"] for line in server._lines(b["input_file_id"])]
                            for b in server.batches.values()]
        assert len(first) == len(want) and set(follow_up) == retried
        assert all(line["body"]["seed"] == 1 and line["body"]["temperature"] == 0.7
                   for b in list(server.batches.values())[1:] for line in server._lines(b["input_file_id"]))
        assert [state for state, *_ in jobs(tmp_path / "batch")] == ["collected", "collected"]
        assert all(r.ok for r in results)
        # a re-run sends nothing
        evaluate(batch_config(tmp_path / "batch", server.base_url))
        assert server.created == 2 and server.uploads == 2


def test_parse_retries_can_go_live(tmp_path):
    with BatchServer(flaky_reply) as server:
        evaluate(batch_config(tmp_path, server.base_url, replace(FAST, parse_retries="live")))
        entries = ledger(tmp_path)
        retried = {k for k, e in entries.items() if e["attempts"] == 2}
        assert server.created == 1 and len(judge_chats(server)) == len(retried) > 0
        assert all(e["status"] == "ok" for e in entries.values())


def test_jobs_split_at_the_request_limit(tmp_path):
    with BatchServer(reply) as server:
        evaluate(batch_config(tmp_path, server.base_url, replace(FAST, max_requests=7), tasks=["mt_bench"]))
        sizes = [len(server._lines(b["input_file_id"])) for b in server.batches.values()]
        assert sizes == [7, 1] and len(ledger(tmp_path)) == 8
        assert [(s, n) for s, _, n in jobs(tmp_path)] == [("collected", 7), ("collected", 1)]


def test_jobs_split_at_the_size_limit(tmp_path):
    with BatchServer(reply) as server:
        evaluate(batch_config(tmp_path, server.base_url, replace(FAST, max_bytes=9000), tasks=["mt_bench"]))
        files = [server.files[b["input_file_id"]]["data"] for b in server.batches.values()]
        assert len(files) > 1 and all(len(f) <= 9000 for f in files)
        assert sum(len(f.splitlines()) for f in files) == 8 and len(ledger(tmp_path)) == 8


def test_an_expired_batch_leaves_exactly_its_unanswered_judgments_pending(tmp_path):
    with BatchServer(reply) as server:
        server.outcome, server.expire_after = "expired", 3
        with pytest.raises(BatchIncomplete, match=r"expired: 5 of 8 requests have no result \(first: batch_expired"):
            evaluate(batch_config(tmp_path, server.base_url, tasks=["mt_bench"]))
        [first] = server.batches.values()
        sent = [line["custom_id"] for line in server._lines(first["input_file_id"])]
        assert set(ledger(tmp_path)) == set(sent[:3])  # the answered three, nothing for the rest
        assert not list(tmp_path.glob("*/summary.json"))  # nothing scored
        server.outcome = "completed"
        [result] = evaluate(batch_config(tmp_path, server.base_url, tasks=["mt_bench"]))
        second = list(server.batches.values())[1]
        assert sorted(line["custom_id"] for line in server._lines(second["input_file_id"])) == sorted(sent[3:])
        assert result.ok and result.summary["coverage"]["judged"] == 8


def test_failed_lines_stay_pending_and_only_they_are_sent_again(tmp_path):
    def unlucky(body):
        return "Rating" in json.dumps(body["messages"]) and len(json.dumps(body)) % 3 == 0

    with BatchServer(reply) as server:
        server.fail = unlucky
        with pytest.raises(BatchIncomplete, match="500: scripted server error"):
            evaluate(batch_config(tmp_path, server.base_url, tasks=["mt_bench"]))
        [first] = server.batches.values()
        failed = {line["custom_id"] for line in server._lines(first["input_file_id"]) if unlucky(line["body"])}
        assert 0 < len(failed) < 8 and set(ledger(tmp_path)) == {
            line["custom_id"] for line in server._lines(first["input_file_id"])} - failed
        server.fail = lambda body: False
        evaluate(batch_config(tmp_path, server.base_url, tasks=["mt_bench"]))
        second = list(server.batches.values())[1]
        assert {line["custom_id"] for line in server._lines(second["input_file_id"])} == failed
        assert len(ledger(tmp_path)) == 8


def test_a_failed_batch_scores_nothing_and_says_why(tmp_path):
    with BatchServer(reply) as server:
        server.outcome = "failed"
        with pytest.raises(BatchIncomplete, match="failed \\(scripted validation failure\\): none of its 8"):
            evaluate(batch_config(tmp_path, server.base_url, tasks=["mt_bench"]))
        assert ledger(tmp_path) == {} and [s for s, *_ in jobs(tmp_path)] == ["failed"]
        server.outcome = "completed"
        evaluate(batch_config(tmp_path, server.base_url, tasks=["mt_bench"]))
        assert server.created == 2 and len(ledger(tmp_path)) == 8


def test_no_wait_stops_with_exit_3_and_a_rerun_collects_the_same_batch(tmp_path):
    no_wait = replace(FAST, wait=False)
    with BatchServer(reply) as server:
        server.hold = True
        with pytest.raises(BatchPending, match=r"8 judgments in batch batch-\d+ \(in_progress\): re-run") as err:
            evaluate(batch_config(tmp_path, server.base_url, no_wait, tasks=["mt_bench"]))
        assert err.value.exit_code == 3
        with pytest.raises(BatchPending):  # still running: checked, nothing sent again
            evaluate(batch_config(tmp_path, server.base_url, no_wait, tasks=["mt_bench"]))
        server.hold, server.polls = False, 0  # done at the next poll
        [result] = evaluate(batch_config(tmp_path, server.base_url, no_wait, tasks=["mt_bench"]))
        assert result.ok and server.created == 1 and server.uploads == 1


def test_dry_run_prices_judge_calls_at_the_batch_rate(tmp_path):
    prices = tmp_path / "prices.yaml"
    prices.write_text(f"{JUDGE}: {{input: 10.0, output: 30.0}}\ncand-x: {{input: 0.0, output: 0.0}}\n")
    cfg = replace(eval_config(tmp_path, "http://127.0.0.1:9/v1", ["mt_bench"]), prices=str(prices))

    def total(text):
        return float(next(line for line in text.splitlines() if line.startswith("| total")).split("$")[-1].split()[0])

    live, batch = dry_run(cfg), dry_run(replace(cfg, batch=FAST))
    assert total(batch) == pytest.approx(total(live) / 2, abs=0.011) and total(live) > 0.1
    assert "Batch API rate: 0.5" in batch


def test_the_cli_exits_3_while_a_batch_runs_and_0_once_collected(tmp_path, capsys):
    from scripted_world import cli_args

    from bolt_eval.cli import main

    with BatchServer(reply) as server:
        args = [*cli_args(tmp_path, server.base_url, ["mt_bench"], 4), "--judge-mode", "batch",
                "--batch-poll-interval", "0.01", "--no-wait"]
        server.hold = True
        assert main(args) == 3
        assert re.search(r"8 judgments in batch batch-\d+ \(in_progress\): re-run the same command later",
                         capsys.readouterr().err)
        server.hold, server.polls = False, 0
        assert main(args) == 0 and server.created == 1
        assert "| cand-x  | mt_bench |" in capsys.readouterr().out


def test_bad_batch_flags_and_local_judges_are_refused(tmp_path):
    from types import SimpleNamespace

    from bolt_eval.backends.base import BackendSpec
    from bolt_eval.cli import build_parser
    from bolt_eval.judging.batch import adopt
    from bolt_eval.judging.batch_cli import settings_from_args
    from bolt_eval.judging.judge import JudgeSpec
    from bolt_eval.types import UserError

    def parse(*extra):
        return settings_from_args(build_parser().parse_args(["run", "--model", "x", "--tasks", "mt_bench", *extra]))

    assert parse() is None and parse("--judge-mode", "batch") == BatchSettings(poll_interval_s=60.0)
    for flags, message in [(["--no-wait"], "--no-wait applies to --judge-mode batch"),
                           (["--judge-mode", "batch", "--batch-max-requests", "50001"], "give 1 to 50000"),
                           (["--judge-mode", "batch", "--batch-poll-interval", "0"], "positive number")]:
        with pytest.raises(UserError, match=message):
            parse(*flags)
    with pytest.raises(UserError, match="the judge 'default' runs on the hf backend: use --judge-mode live"):
        adopt(SimpleNamespace(spec=JudgeSpec(BackendSpec("hf", "default"))), FAST)


def test_dry_run_does_not_count_judgments_in_a_running_batch(tmp_path):
    def calls(cfg):
        row = next(line for line in dry_run(cfg).splitlines() if line.startswith("| mt_bench"))
        return int(row.split("|")[5])

    with BatchServer(reply) as server:
        server.hold = True
        cfg = batch_config(tmp_path, server.base_url, replace(FAST, wait=False), tasks=["mt_bench"])
        with pytest.raises(BatchPending):
            evaluate(cfg)
        assert calls(cfg) == 0 and calls(replace(cfg, batch=None)) == 8


def test_collecting_twice_gives_the_same_ledger(tmp_path):
    """A kill after the results were written but before the job was marked collected: the
    re-run downloads and writes them again, to the same rows (attempts and tokens not doubled)."""
    with BatchServer(flaky_reply) as server:
        evaluate(batch_config(tmp_path, server.base_url, tasks=["mt_bench"]))
        before = ledger(tmp_path)
        db = sqlite3.connect(tmp_path / "judgments.sqlite")
        with db:
            db.execute("UPDATE batch_jobs SET state = 'submitted'")
        db.close()
        evaluate(batch_config(tmp_path, server.base_url, tasks=["mt_bench"]))
        assert ledger(tmp_path) == before and server.created == 2 and server.uploads == 2
        assert [s for s, *_ in jobs(tmp_path)] == ["collected", "collected"]
