"""MT-Bench, Arena-Hard and WildBench (fixture sizes), candidate and judge on one loopback
server that answers 30% of requests with a fault: every answer and judgment ends present
or explicitly marked failed, nothing twice, the ledger agrees with the run folders, and one
plain re-run ends with exactly the summary bytes of a run that met no fault."""

from __future__ import annotations

import json
import sqlite3
from collections import Counter

import pytest
from fault_plan import CONTENT, TRANSPORT, FaultPlan
from openai_server import LoopbackServer
from scripted_world import CANDIDATE, DATA, JUDGE, eval_config, reply, summaries

from bolt_eval.backends.base import BackendSpec
from bolt_eval.judging.parsers import PARSERS, status_of
from bolt_eval.runner import IncompleteRun, TaskSpec, evaluate

TASKS = ["mt_bench", "arena_hard", "wildbench"]
FAILED = {"api_error", "parse_error", "refused", "truncated"}


def lines(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] if path.exists() else []


def folder_state(root):
    """Per run folder: {sample id: answers} and {sample id: judgments}, checking no id is there twice."""
    state = {}
    for run in sorted(p for p in root.iterdir() if p.is_dir()):
        samples, judgments = lines(run / "samples.jsonl"), lines(run / "judgments.jsonl")
        assert len({r["id"] for r in samples}) == len(samples) and len({r["id"] for r in judgments}) == len(judgments)
        state[run.name] = ({r["id"]: [t["response"] for o in r["outputs"] for t in o["turns"]] for r in samples},
                           {r["id"]: r["judgments"] for r in judgments})
    return state


def ledger(root):
    db = sqlite3.connect(root / "judgments.sqlite")
    rows = db.execute("SELECT key, status, verdict, parser, raw, finish_reason, error FROM judgments").fetchall()
    db.close()
    return {k: (s, json.loads(v) if v is not None else None, p, raw, f, e) for k, s, v, p, raw, f, e in rows}


def test_thirty_percent_faults_lose_nothing_and_a_rerun_scores_as_a_clean_run(tmp_path):
    with LoopbackServer(reply) as server:
        # retries and timeouts are not configuration: the runs share their run folders' names and judgment keys
        evaluate(eval_config(tmp_path / "clean", server.base_url, TASKS, retries=3, timeout_s=10.0, parse_retries=1))
        clean, clean_ledger = folder_state(tmp_path / "clean"), ledger(tmp_path / "clean")
        keys = [j["key"] for _, js in clean.values() for outs in js.values() for o in outs for j in o.values()]
        assert len(keys) == 8 + 12 + 72 and clean_ledger.keys() == set(keys)  # two WildBench battles share a prompt
        assert {s for s, *_ in clean_ledger.values()} == {"ok"}

        plan = server.plan = FaultPlan(reply, rate=0.3, seed=2, judges={JUDGE}, hang_s=2.0)
        faulty_cfg = eval_config(tmp_path / "faulty", server.base_url, TASKS, retries=1, timeout_s=1.0,
                                 parse_retries=1)
        start = len(server.requests)
        try:
            evaluate(faulty_cfg)
            incomplete = ""
        except IncompleteRun as err:
            incomplete = str(err)
        faulty_requests = server.requests[start:]
        assert set(plan.injected) == set(TRANSPORT + CONTENT)  # every kind met at least once
        assert sum(plan.injected.values()) >= 0.25 * len(faulty_requests)

        state, rows = folder_state(tmp_path / "faulty"), ledger(tmp_path / "faulty")
        assert state.keys() == clean.keys()
        missing = 0
        for run, (answers, judgments) in state.items():
            clean_answers, clean_judgments = clean[run]
            assert all(answers[i] == clean_answers[i] for i in answers)  # a stored answer is the true answer
            missing += len(clean_answers) - len(answers)
            assert judgments.keys() == answers.keys()  # every stored answer is judged or marked
            for i, outputs in judgments.items():
                for got, want in zip(outputs, clean_judgments[i], strict=True):
                    assert got.keys() == want.keys()
                    for name, j in got.items():
                        assert j["key"] == want[name]["key"]
                        ok = j["status"] == "ok"
                        assert (j["status"], j["verdict"]) == (rows[j["key"]][:2] if ok else (j["status"], None))
                        assert j["verdict"] == want[name]["verdict"] if ok else j["status"] in FAILED
        # the ledger holds exactly the judgments the folders name, each consistent with its raw reply
        assert rows.keys() == {j["key"] for _, js in state.values() for outs in js.values() for o in outs
                               for j in o.values()}
        for status, verdict, parser, raw, finish, error in rows.values():
            parsed = None if error else PARSERS[parser.split("@")[0]].parse(raw)
            assert (status, verdict) == (status_of(raw, finish, error, parsed), parsed)
        failed = Counter(s for s, *_ in rows.values() if s != "ok")
        assert failed and set(failed) <= FAILED
        assert bool(missing) == bool(incomplete)

        server.plan = None
        start = len(server.requests)
        results = evaluate(eval_config(tmp_path / "faulty", server.base_url, TASKS, retries=3, timeout_s=10.0,
                                       parse_retries=1))  # one more plain run of the same configuration
        rerun = Counter(b["model"] for b in server.requests[start:])
    assert [r.manifest["status"] for r in results] == ["complete"] * 3
    assert summaries(tmp_path / "faulty") == summaries(tmp_path / "clean") and len(summaries(tmp_path / "clean")) == 3
    # the re-run asked only what was missing: each failed or unasked judgment once, no stored one again
    assert rerun[JUDGE] == len(clean_ledger) - sum(s == "ok" for s, *_ in rows.values())
    assert rerun[CANDIDATE] <= 2 * missing
    assert {k: v[0] for k, v in ledger(tmp_path / "faulty").items()} == {k: "ok" for k in clean_ledger}
    print(f"\nfaults injected: {dict(sorted(plan.injected.items()))}; requests {len(faulty_requests)}; "
          f"judgments marked failed {dict(failed)}; samples failed {missing}; re-run calls {dict(rerun)}")


def test_a_failed_sample_stops_neither_the_other_samples_nor_the_other_tasks(tmp_path):
    """Replay answers lacking one MT-Bench question: the other three are judged (their
    judgments stored, so the retry pays only for the missing one) and MATH500 finishes."""
    answers = tmp_path / "answers.jsonl"
    mt_ids = [json.loads(line)["question_id"] for line in DATA["mt_bench"].read_text().splitlines()]
    math_ids = [json.loads(line)["unique_id"] for line in DATA["math500"].read_text().splitlines()[:2]]
    rows = [{"id": q, "responses": [f"one {q}", f"two {q}"]} for q in mt_ids[1:]] + \
           [{"id": i, "response": "\\boxed{2}"} for i in math_ids]
    answers.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with LoopbackServer(reply) as server:
        cfg = eval_config(tmp_path / "r", server.base_url, ["mt_bench", "math500"])
        cfg.backend = BackendSpec("replay", str(answers))
        cfg.tasks = [TaskSpec("mt_bench", str(DATA["mt_bench"])), TaskSpec("math500", str(DATA["math500"]), limit=2)]
        with pytest.raises(IncompleteRun) as err:
            evaluate(cfg)
        assert len(server.requests) == 3 * 2
    [mt] = (tmp_path / "r").glob("*--mt_bench--*")
    assert str(err.value) == (f"mt_bench: 1 of 4 samples failed, first: {mt_ids[0]}: {answers}: no recorded answer "
                              f"for id '{mt_ids[0]}' turn 1. Finished samples are kept in {mt}; re-run the same "
                              "command to retry the rest")
    assert json.loads((mt / "manifest.json").read_text())["status"] == "incomplete" and not (mt / "summary.json").exists()
    assert [r["id"] for r in lines(mt / "judgments.jsonl")] == [str(q) for q in mt_ids[1:]]
    [math] = (tmp_path / "r").glob("*--math500--*")
    assert json.loads((math / "manifest.json").read_text())["status"] == "complete" and (math / "summary.json").exists()
