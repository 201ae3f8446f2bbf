"""`bolt-eval train queries`: criteria grading by a scripted judge on a real loopback HTTP
server (exact verdicts, parse failures, a re-run that pays nothing), the topic mix with
exact counts, the CLI end to end with a planted contaminated query."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest
import yaml
from openai_server import LoopbackServer

from bolt_eval.training import queries
from bolt_eval.training.criteria import parse_criteria
from bolt_eval.training.recipe import REPO_ROOT
from bolt_eval.training.recipe_file import load_recipe
from bolt_eval.training.topic_mix import targets
from bolt_eval.types import UserError

INSTRUCTIONS = REPO_ROOT / "training" / "queries" / "sample-instructions.jsonl"
ROWS = [json.loads(line) for line in INSTRUCTIONS.read_text().splitlines()]
TOPIC = {r["messages"][0]["content"]: r["topic_hint"] for r in ROWS}
ID = {r["messages"][0]["content"]: r["id"] for r in ROWS}
# what the scripted judge says per topic: 6, 6, 6, 4, 4, 5, 1, 0 criteria
CRITERIA = {"math": [1, 2, 3, 4, 6, 7], "coding": [1, 2, 3, 4, 6, 7], "reasoning": [1, 3, 4, 5, 6, 7],
            "science": [1, 2, 3, 6], "writing": [1, 3, 5, 7], "advice": [1, 3, 4, 5, 7], "knowledge": [2], "other": []}
KEPT_AT_5 = sorted(r["id"] for r in ROWS if len(CRITERIA[r["topic_hint"]]) >= 5)


def bolt(*args: str) -> subprocess.CompletedProcess:
    """`bolt-eval ARGS` as a user runs it: a real process, real files, real exit code."""
    return subprocess.run([sys.executable, "-m", "bolt_eval.cli", *args], capture_output=True, text=True,
                          env=dict(os.environ), timeout=300)


def judge_reply(fail: set[str]):
    def reply(body):
        text = re.search(r"<prompt>\n(.*)\n</prompt>", body["messages"][-1]["content"], re.S).group(1)
        if ID[text] in fail:
            return "What an interesting prompt! I would happily answer it."
        return f"Criteria satisfied: {CRITERIA[TOPIC[text]]}\nTopic: {TOPIC[text]}"
    return reply


def recipe(tmp_path, server=None, **queries_cfg):
    data = {"name": "q-test", "output_dir": str(tmp_path / "out"), "model": "default", "seed": 3,
            "eval": {"suite": "train-tiny"},
            "queries": {"sources": [{"path": str(INSTRUCTIONS)}], "judge": None, **queries_cfg}}
    if server is not None:
        data["queries"]["judge"] = {"model": "judge-x", "backend": "openai", "base_url": server.base_url, "concurrency": 4}
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return load_recipe(path)


def outputs(tmp_path):
    folder = tmp_path / "out" / "queries"
    read = lambda name: [json.loads(x) for x in (folder / name).read_text().splitlines()]  # noqa: E731
    return read("queries.jsonl"), read("removed.jsonl"), json.loads((folder / "manifest.json").read_text())


def test_parse_criteria():
    assert parse_criteria("Criteria satisfied: [1, 3, 4]\nTopic: coding") == {"criteria": [1, 3, 4], "topic": "coding"}
    assert parse_criteria("Criteria satisfied: []\n**Topic:** <Math>.") == {"criteria": [], "topic": "math"}
    assert parse_criteria("[1, 2]\n[1, 2]\nTopic: advice") == {"criteria": [1, 2], "topic": "advice"}
    assert parse_criteria("[1, 2] or maybe [1, 3]\nTopic: advice") is None  # lists that disagree: no verdict
    assert parse_criteria("Criteria satisfied: [1, 2]") is None  # no topic
    assert parse_criteria("Topic: math") is None  # no list: not "0 criteria"


def test_topic_targets_exact():
    assert targets({"math": 10, "coding": 20, "writing": 5}, {"math": 0.5, "coding": 0.3, "writing": 0.2}, None) == \
        {"math": 10, "coding": 6, "writing": 4}
    assert targets({"math": 10, "coding": 20, "writing": 5}, {"math": 0.5, "coding": 0.3, "writing": 0.2}, 7) == \
        {"math": 4, "coding": 2, "writing": 1}
    assert targets({"math": 3}, {"math": 0.6, "advice": 0.4}, None) == {"math": 3}  # a topic nobody has: left out


def test_criteria_grading_and_a_rerun_that_pays_nothing(tmp_path):
    with LoopbackServer(judge_reply(set())) as server:
        r = recipe(tmp_path, server, min_criteria=5)
        table = queries.run(r, progress=False)
        assert len(server.requests) == 30
        kept, removed, manifest = outputs(tmp_path)
        assert sorted(q["id"] for q in kept) == KEPT_AT_5
        assert all(q["topic"] == TOPIC[q["prompt"]] for q in kept)
        dropped = {x["id"]: x for x in removed}
        assert dropped["inst-016"]["criteria"] == [1, 2, 3, 6] and "meets 4 of 7" in dropped["inst-016"]["reason"]
        assert dropped["inst-029"]["criteria"] == [] and len(dropped) == 30 - len(KEPT_AT_5)
        c = manifest["counts"]
        assert (c["loaded"], c["graded"], c["ungraded"], c["after_criteria"], c["curated"]) == (30, 30, 0, 18, 18)
        assert manifest["judge"]["model"]["model"]["name"] == "judge-x" and manifest["cost"]["calls"] == 30
        assert manifest["cost"]["usd"] is None  # judge-x has no price: unknown, not 0
        assert "after criteria (>= 5 of 7)" in table and "| curated" in table
        first = (tmp_path / "out" / "queries" / "queries.jsonl").read_bytes()
        queries.run(recipe(tmp_path, server, min_criteria=5, max_queries=100), progress=False)  # settings changed
        assert len(server.requests) == 30  # every verdict came from the ledger
        assert (tmp_path / "out" / "queries" / "queries.jsonl").read_bytes() == first
        assert outputs(tmp_path)[2]["cost"]["calls_this_run"] == 0


def test_parse_failures_are_ungraded_and_asked_again(tmp_path):
    fail = {"inst-001", "inst-006"}
    with LoopbackServer(judge_reply(fail)) as server:
        r = recipe(tmp_path, server)
        table = queries.run(r, progress=False)
        assert len(server.requests) == 28 + 2 * 3  # each failure asked twice more (parse_retries 2)
        kept, removed, manifest = outputs(tmp_path)
        assert {q["id"] for q in kept} == set(KEPT_AT_5) - fail
        ungraded = [x for x in removed if x.get("judge_status")]
        assert sorted(x["id"] for x in ungraded) == sorted(fail)
        assert all(x["judge_status"] == "parse_error" and "ungraded" in x["reason"] and "criteria" not in x
                   for x in ungraded)
        assert manifest["counts"]["ungraded"] == 2 and "warning: 2 queries have no verdict" in table
        server.reply = judge_reply(set())  # the judge behaves now: only the two are asked again
        queries.run(r, progress=False)
        assert len(server.requests) == 34 + 2
        assert sorted(q["id"] for q in outputs(tmp_path)[0]) == KEPT_AT_5


def test_topic_mix_and_max_queries_exact(tmp_path):
    mix = {"coding": 0.5, "math": 0.25, "reasoning": 0.25}
    with LoopbackServer(judge_reply(set())) as server:
        queries.run(recipe(tmp_path, server, topics=mix), progress=False)
        kept, removed, manifest = outputs(tmp_path)
        # after criteria: coding 6, math 5, reasoning 4, advice 3 (not on the menu: "other")
        assert [sum(q["topic"] == t for q in kept) for t in mix] == [6, 3, 3]
        assert manifest["counts"]["topic_not_on_menu"] == 3 + 4 + 3 + 3  # science, writing, advice, knowledge
        assert sum(x["step"] == "topics" for x in removed) == 6
        rows = {r["topic"]: r for r in manifest["topics"]}
        assert (rows["math"]["before"], rows["math"]["after"], rows["math"]["target_share"]) == (5, 3, 0.25)
        assert rows["other"]["before"] == 3 and rows["other"]["after"] == 0
        assert (tmp_path / "out" / "queries" / "topics.png").stat().st_size > 5000
        queries.run(recipe(tmp_path, server, topics=mix, max_queries=8), progress=False)
        capped = outputs(tmp_path)[0]
        assert [sum(q["topic"] == t for q in capped) for t in mix] == [4, 2, 2]
        queries.run(recipe(tmp_path, server, topics=mix, max_queries=8), progress=False)
        assert outputs(tmp_path)[0] == capped  # seeded: the same draw again
        assert len(server.requests) == 30


def test_nothing_survives_no_query_file_but_the_removed_list(tmp_path):
    with LoopbackServer(judge_reply(set())) as server:
        with pytest.raises(UserError, match=r"no query survived curation .*removed.jsonl"):
            queries.run(recipe(tmp_path, server, min_criteria=7), progress=False)
    folder = tmp_path / "out" / "queries"
    assert not (folder / "queries.jsonl").exists()
    assert len((folder / "removed.jsonl").read_text().splitlines()) == 30
    assert json.loads((folder / "manifest.json").read_text())["status"] == "running"  # later stages refuse it


def test_topics_without_a_judge_is_an_error(tmp_path):
    with pytest.raises(UserError, match="'queries.topics' needs a judge"):
        queries.run(recipe(tmp_path, topics={"math": 1.0}), progress=False)


def test_cli_end_to_end_with_a_planted_leak(tmp_path):
    evaluation = (REPO_ROOT / "tasks" / "zebralogic" / "train-tiny.jsonl").read_text().splitlines()
    leak = {**json.loads(evaluation[3]), "id": "leaked-puzzle"}
    (tmp_path / "extra.jsonl").write_text(json.dumps(leak) + "\n")
    data = {"name": "cli", "output_dir": str(tmp_path / "out"), "model": "default", "eval": {"suite": "train-tiny"},
            "queries": {"judge": None, "sources": [
                {"path": str(REPO_ROOT / "training" / "queries" / "tiny-zebra.jsonl"), "task": "zebralogic"},
                {"path": str(tmp_path / "extra.jsonl"), "task": "zebralogic"}]}}
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump(data))
    done = bolt("train", "queries", "--recipe", str(path), "--no-progress")
    assert done.returncode == 0, done.stderr
    assert re.search(r"after decontamination \(n=13, overlap >= 0.5, suite train-tiny\)\s*\|\s*48", done.stdout)
    kept, removed, manifest = outputs(tmp_path)
    assert len(kept) == 48 and manifest["status"] == "complete"
    assert [(x["id"], x["benchmark"], x["item"], x["overlap"]) for x in removed] == \
        [("leaked-puzzle", "zebralogic", json.loads(evaluation[3])["id"], 1.0)]
    # bad input: a missing source fails with exit 2, naming the file, and writes no output
    data["queries"]["sources"].append({"path": str(tmp_path / "missing.jsonl")})
    data["output_dir"] = str(tmp_path / "out2")
    path.write_text(yaml.safe_dump(data))
    bad = bolt("train", "queries", "--recipe", str(path), "--no-progress")
    assert bad.returncode == 2 and "missing.jsonl: no such file" in bad.stderr
    assert not (tmp_path / "out2" / "queries" / "queries.jsonl").exists()


def test_a_finished_curation_is_skipped_until_an_input_changes(tmp_path):
    with LoopbackServer(judge_reply(set())) as server:
        r = recipe(tmp_path, server, min_criteria=5)
        queries.run(r, progress=False)
        folder = tmp_path / "out" / "queries"
        first = (folder / "queries.jsonl").read_bytes()
        stamp = json.loads((folder / "manifest.json").read_text())["finished"]
        server.reply = judge_reply({"inst-001"})  # a judge that would now answer otherwise is not asked
        table = queries.run(r, progress=False)
        assert "skipped" in table and len(server.requests) == 30
        assert (folder / "queries.jsonl").read_bytes() == first
        assert json.loads((folder / "manifest.json").read_text())["finished"] == stamp  # not even rewritten
        # the source file's content changed (the recipe did not): curated again
        source = tmp_path / "instructions.jsonl"
        source.write_text(INSTRUCTIONS.read_text())
        r = recipe(tmp_path, server, min_criteria=5, sources=[{"path": str(source)}])
        queries.run(r, progress=False)
        source.write_text("".join(line + "\n" for line in INSTRUCTIONS.read_text().splitlines()[:-1]))
        table = queries.run(r, progress=False)
        assert "skipped" not in table and outputs(tmp_path)[2]["counts"]["loaded"] == 29


def test_a_rerun_that_fails_before_writing_leaves_the_finished_curation_usable(tmp_path):
    from bolt_eval.training.bootstrap import queries_file

    fail = {"inst-001"}
    with LoopbackServer(judge_reply(fail)) as server:
        r = recipe(tmp_path, server)
        queries.run(r, progress=False)  # one query ungraded: complete, and the next run asks again
        folder = tmp_path / "out" / "queries"
        before = (folder / "manifest.json").read_bytes()
    with pytest.raises(UserError, match="unreachable"):  # the judge's server is gone
        queries.run(r, progress=False)
    assert (folder / "manifest.json").read_bytes() == before
    assert queries_file(r) == folder / "queries.jsonl"
