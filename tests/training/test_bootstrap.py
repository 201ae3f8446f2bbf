"""Stage 1 end to end through the CLI: `train queries` then `train bootstrap`, the
bootstrapping model behind a real loopback OpenAI-compatible server whose replies are
scripted (valid long-CoT answers right or wrong, and each format fault), the verifier and
format rewards real. Kill and resume: same bytes, no sample asked for twice."""

from __future__ import annotations

import hashlib
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import ROOT, bolt, cli_env
from openai_server import LoopbackServer

PUZZLES = [json.loads(line) for line in (ROOT / "tasks/zebralogic/smoke.jsonl").read_text().splitlines()][:6]


def answer(row: dict, right: bool) -> str:
    header, rows = row["solution"]["header"], [list(r) for r in row["solution"]["rows"]]
    if not right:  # swap the last attribute of the first two houses
        rows[0][-1], rows[1][-1] = rows[1][-1], rows[0][-1]
    grid = {f"House {r[0]}": dict(zip(header[1:], r[1:])) for r in rows}
    return json.dumps({"reasoning": "by the clues", "solution": grid})


def reply(body: dict) -> str:
    """Scripted by (puzzle, seed): 6 kinds in turn, the same reply for the same request."""
    prompt, seed = body["messages"][-1]["content"], body.get("seed", 0)
    row = next(r for r in PUZZLES if r["puzzle"].strip() in prompt)
    kind = int(hashlib.sha256(f"{row['id']}:{seed}".encode()).hexdigest(), 16) % 6
    if kind in (0, 1):
        return f"<internal_thoughts>Check each clue. Wait, verify.</internal_thoughts>\n" \
               f"<external_solution>{answer(row, right=kind == 0)}</external_solution>"
    if kind == 2:
        return f"<internal_thoughts>short</internal_thoughts><external_solution>{answer(row, False)}"
    if kind == 3:
        return answer(row, True)  # no thoughts at all
    if kind == 4:
        return "<internal_thoughts>I keep thinking and never stop"
    return "<internal_thoughts>x</internal_thoughts><external_solution>done <internal_thoughts></external_solution>"


def recipe(tmp: Path, base_url: str) -> Path:
    queries = tmp / "queries.jsonl"
    queries.write_text("".join(json.dumps(r) + "\n" for r in PUZZLES))
    path = tmp / "recipe.yaml"
    path.write_text(f"""
name: boot-test
output_dir: {tmp / 'out'}
model: default
eval: {{suite: train-tiny}}
queries:
  sources: [{{path: {queries}, task: zebralogic}}]
  judge: null
bootstrap:
  generator: {{model: scripted, backend: openai, base_url: "{base_url}", batch_size: 2, concurrency: 4}}
  k: 2
  n: 4
  percentile: 30
reward:
  - {{kind: verifier}}
  - {{kind: format, weight: 0.5}}
""")
    return path


@pytest.fixture
def server():
    with LoopbackServer(reply) as s:
        yield s


def kind_of(row: dict) -> str:
    text = row["response"]
    if not row["format_ok"]:
        return "bad"
    return "right" if answer(next(q for q in PUZZLES if q["id"] == row["query"]), True) in text else "wrong"


def test_bootstrap_filters_scores_selects_and_resumes_after_a_kill(tmp_path: Path, server: LoopbackServer,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    path = recipe(tmp_path, server.base_url)
    out = bolt("train", "queries", "--recipe", str(path), "--no-progress")
    assert out.returncode == 0, out.stderr
    out = bolt("train", "bootstrap", "--recipe", str(path), "--no-progress")
    assert out.returncode == 0, out.stderr
    assert len(server.requests) == 6 * 4
    stage = tmp_path / "out" / "bootstrap"
    pool = [json.loads(x) for x in (stage / "pool.jsonl").read_text().splitlines()]
    sft = [json.loads(x) for x in (stage / "sft.jsonl").read_text().splitlines()]
    manifest = json.loads((stage / "manifest.json").read_text())
    assert len(pool) == 24 and manifest["status"] == "complete" and "SFT rows" in out.stdout
    kinds = [kind_of(r) for r in pool]
    assert {"bad", "right", "wrong"} <= set(kinds)  # the script reaches every branch
    for row, kind in zip(pool, kinds):
        if kind == "bad":
            assert row["reward"] is None and row["fate"] == row["format_reason"]
            assert row["format_reason"] in ("thoughts_unclosed", "no_thoughts", "tags_in_solution", "empty_solution")
        elif kind == "right":
            assert row["reward"] == 1.5  # cell accuracy 1 + 0.5 x format 1
        else:
            assert 0.5 < row["reward"] < 1.5  # two cells swapped
    assert manifest["counts"]["format_valid"] == kinds.count("right") + kinds.count("wrong")
    for row in sft:  # the argmax of each query's valid samples, in the one spelling of the format
        mine = [r for r in pool if r["query"] == row["id"] and r["reward"] is not None]
        assert row["reward"] == max(r["reward"] for r in mine)
        puzzle = next(q for q in PUZZLES if q["id"] == row["id"])["puzzle"]
        assert puzzle.strip() in row["messages"][0]["content"]
        assert row["messages"][1]["content"].startswith("<internal_thoughts>\n")
        assert row["messages"][1]["content"].endswith("</external_solution>")
    first = {name: (stage / name).read_bytes() for name in ("sft.jsonl", "pool.jsonl")}

    # the same recipe again is skipped; another percentile re-selects without generating
    again = bolt("train", "bootstrap", "--recipe", str(path), "--no-progress")
    assert again.returncode == 0 and "skipped" in again.stdout and len(server.requests) == 24
    strict = bolt("train", "bootstrap", "--recipe", str(path), "--set", "bootstrap.percentile=100", "--no-progress")
    assert strict.returncode == 0, strict.stderr
    assert len(server.requests) == 24
    fates = json.loads((stage / "manifest.json").read_text())["counts"]["by_fate"]
    assert fates["kept"] == len({r["query"] for r, k in zip(pool, kinds) if k == "right"})

    # kill mid-generation, then resume: the same output bytes, nothing stored asked for again
    (tmp_path / "k").mkdir()
    fresh = recipe(tmp_path / "k", server.base_url)
    assert bolt("train", "queries", "--recipe", str(fresh), "--no-progress").returncode == 0
    before = len(server.requests)
    server.latency_s = 0.3
    proc = subprocess.Popen([sys.executable, "-m", "bolt_eval.cli", "train", "bootstrap", "--recipe", str(fresh),
                             "--no-progress"], env=cli_env(OPENAI_API_KEY="test-key"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    journal = tmp_path / "k" / "out" / "bootstrap" / "samples.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (journal.exists() and journal.read_text().count("\n") >= 1):
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    time.sleep(0.2)  # a request the killed process sent is recorded by the server before `killed` is read
    killed = len(server.requests)
    stored = {q["id"] for line in journal.read_text().splitlines() for q in json.loads(line)["queries"]}
    assert 2 <= len(stored) < 6
    server.latency_s = 0.0
    resumed = bolt("train", "bootstrap", "--recipe", str(fresh), "--no-progress")
    assert resumed.returncode == 0, resumed.stderr
    ask = lambda bodies: [(b["messages"][-1]["content"], b.get("seed")) for b in bodies]  # noqa: E731
    asked, first_run, second_run = ask(server.requests[before:]), ask(server.requests[before:killed]), \
        ask(server.requests[killed:])
    assert len(set(asked)) == 24
    for query in PUZZLES:
        mine = lambda run: [a for a in run if query["puzzle"].strip() in a[0]]  # noqa: E731
        if query["id"] in stored:  # its 4 samples asked once each, before the kill, never again
            assert (len(mine(first_run)), len(set(mine(first_run))), mine(second_run)) == (4, 4, []), query["id"]
        else:  # its 4 samples asked once each by the resumed run; at the kill some may have been in flight
            assert (len(mine(second_run)), len(set(mine(second_run)))) == (4, 4), query["id"]
            assert set(mine(first_run)) <= set(mine(second_run)), query["id"]
    assert all(asked.count(a) <= 2 for a in asked)  # only the chunk in flight at the kill is asked again
    for name, data in first.items():
        assert (tmp_path / "k/out/bootstrap" / name).read_bytes().replace(str(tmp_path / "k").encode(), b"") == \
            data.replace(str(tmp_path).encode(), b""), name


def test_a_changed_reward_or_format_rescores_the_stored_samples_without_generating(
        tmp_path: Path, server: LoopbackServer, monkeypatch: pytest.MonkeyPatch) -> None:
    from bolt_eval.training import bootstrap, queries
    from bolt_eval.training.recipe_file import load_recipe

    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    path = recipe(tmp_path, server.base_url)
    strict = ["bootstrap.format.min_thought_chars=10"]  # "short" (5 characters) of kind 2 is rejected
    queries.run(load_recipe(path), progress=False)
    bootstrap.run(load_recipe(path, strict), progress=False)
    stage = tmp_path / "out" / "bootstrap"
    read = lambda: [json.loads(x) for x in (stage / "pool.jsonl").read_text().splitlines()]  # noqa: E731
    before = read()
    assert {r["format_reason"] for r in before} >= {"thoughts_too_short"} and len(server.requests) == 24

    # the format reward weighs 1.0 now and the rules are loosened: the same samples, scored anew
    path.write_text(path.read_text().replace("weight: 0.5", "weight: 1.0"))
    bootstrap.run(load_recipe(path), progress=False)
    after = read()
    assert len(server.requests) == 24  # nothing generated again
    assert [r["response"] for r in after] == [r["response"] for r in before]
    newly = [r for r, old in zip(after, before) if old["format_reason"] == "thoughts_too_short"]
    assert newly and all(r["format_ok"] and r["reward"] is not None for r in newly)  # scored, not a TypeError
    for row in after:
        if row["format_ok"]:  # cell accuracy + 1.0 x format 1, not the old 0.5 x format
            assert row["reward"] == pytest.approx(row["reward_parts"]["verifier"] + 1.0)
        else:
            assert row["reward"] is None
    manifest = json.loads((stage / "manifest.json").read_text())
    assert [c["weight"] for c in manifest["reward"]["components"]] == [1.0, 1.0]

    # a journal from before the hash was stored (no "reward_hash"; here with planted values) is scored again
    journal = stage / "rewards.jsonl"
    records = [json.loads(x) for x in journal.read_text().splitlines()]
    old = {r["key"]: {k: {**s, "value": -7.0} for k, s in r["rewards"].items()} for r in records}
    journal.write_text("".join(json.dumps({"key": k, "rewards": v}) + "\n" for k, v in old.items()))
    bootstrap.run(load_recipe(path, ["bootstrap.percentile=50"]), progress=False)
    assert [r["reward"] for r in read()] == [r["reward"] for r in after] and len(server.requests) == 24

    # a score the reward model failed to give (a judge API down) is asked for again, alone
    records = [json.loads(x) for x in journal.read_text().splitlines()]
    last = {r["key"]: r for r in records}
    key, rec = next((k, r) for k, r in last.items() if r["rewards"])
    item = next(iter(rec["rewards"]))
    was = rec["rewards"][item]["value"]
    rec["rewards"][item] = {"value": None, "parts": {}, "error": "judge: api_error (APIConnectionError)", "notes": {}}
    journal.write_text(journal.read_text() + json.dumps(rec) + "\n")
    bootstrap.run(load_recipe(path, ["bootstrap.percentile=60"]), progress=False)
    final = {json.loads(x)["key"]: json.loads(x) for x in journal.read_text().splitlines()}
    assert final[key]["rewards"][item]["value"] == was is not None
    assert len(server.requests) == 24
