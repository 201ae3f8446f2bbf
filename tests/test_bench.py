"""The bench runner (bench/run.py) in quick mode on two cheap cases, as `nox -s bench` runs
it: each case in its own process, a JSON record and a markdown summary with the figures."""

from __future__ import annotations

import json
import subprocess
import sys

from conftest import ROOT


def test_bench_quick_writes_record_and_summary(tmp_path):
    cmd = [sys.executable, str(ROOT / "bench" / "run.py"), "--cases", "warm_rerun,zebralogic", "--quick",
           "--out", str(tmp_path)]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    [record_file] = tmp_path.glob("*-warm_rerun+zebralogic-quick.json")
    record = json.loads(record_file.read_text())
    assert record["quick"] is True
    assert record["machine"]["cpu_count"] >= 1 and len(record["machine"]["git_sha"]) == 40
    assert list(record["cases"]) == ["warm_rerun", "zebralogic"]
    for case in record["cases"].values():
        assert "error" not in case and case["rows"]
        assert case["wall_s"] > 0 and case["peak_rss_mib"] > 20  # a Python process with bolt_eval imported

    [warm] = record["cases"]["warm_rerun"]["rows"]
    assert warm["questions"] == 8 and warm["cold_judge_calls"] == 16  # two turns judged per question
    assert warm["warm_judge_calls"] == 0
    assert 0 < warm["warm_over_cold"] < 1

    generate, score, solve, proof = record["cases"]["zebralogic"]["rows"]
    assert generate["what"].startswith("generate 50 puzzles")  # 2 of each of the 25 sizes
    assert 0 < generate["solver_share"] <= 1 and generate["solver_calls"] >= 50
    assert score["total_s"] > 0 and solve["per_puzzle_ms"] > 0 and proof["per_puzzle_ms"] > 0

    summary = record_file.with_suffix(".md").read_text()
    assert "## 4. Warm re-run" in summary and "## 6. ZebraLogic" in summary
    assert "| questions | cold s | warm s | warm over cold | cold judge calls | warm judge calls |" in summary
    assert f"git {record['machine']['git_sha'][:10]}" in summary


def test_statistics_case_quick_equals_the_golden(tmp_path):
    """Case 5 in quick mode: the Arena-Hard-SC fit and bootstrap of 1 and 3 checkpoints give
    the golden numbers of the serial fit (bench/cases/statistics_fit_golden.json) to 1e-6,
    else the case exits with an error."""
    cmd = [sys.executable, str(ROOT / "bench" / "run.py"), "--cases", "statistics_fit", "--quick", "--out", str(tmp_path)]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    [record_file] = tmp_path.glob("*-statistics_fit-quick.json")
    one, three, *compare = json.loads(record_file.read_text())["cases"]["statistics_fit"]["rows"]
    assert one["size"] == "156 battles" and three["what"] == "arena fit, 3 checkpoint(s)"
    for row in (one, three):
        assert row["max_abs_diff_vs_golden"] <= 1e-6 and row["cpu_s"] > 0
    assert len(compare) == 2


def test_fast_server_answers_openai_clients_counts_and_serves_concurrently():
    """The bench's loopback server (bench/cases/_fast_server.py): the official client reads
    its replies, every request is counted across workers, waiting requests overlap, and the
    minimal client behind `ceiling` gets whole replies."""
    from openai import OpenAI

    sys.path.insert(0, str(ROOT / "bench"))
    from cases._fast_server import ceiling, serve
    from cases.judging import reply

    with serve(reply, 0.5, workers=2) as server:
        before = server.requests()  # the readiness probe's
        client = OpenAI(api_key="EMPTY", base_url=server.base_url, max_retries=0)
        resp = client.chat.completions.create(model="m", messages=[{"role": "user", "content": "one two three"}])
        client.close()
        assert resp.choices[0].message.content == reply({}) and resp.usage.prompt_tokens == 3
        rate = ceiling(server.base_url, 8, 8)  # 8 calls of 0.5 s each: 4 s one after another
        assert server.requests() - before == 9
    assert 4 < rate <= 16.5  # overlapping, and never faster than the latency allows


def test_bench_quick_judging_case(tmp_path):
    cmd = [sys.executable, str(ROOT / "bench" / "run.py"), "--cases", "judging", "--quick", "--out", str(tmp_path)]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    [record_file] = tmp_path.glob("*-judging-quick.json")
    rows = json.loads(record_file.read_text())["cases"]["judging"]["rows"]
    assert [r["concurrency"] for r in rows] == [1, 8, 32]
    for r in rows:
        assert r["ideal_calls/s"] == r["concurrency"] * 10  # 100 ms latency
        for side in ("server_ceiling", "bolt-eval", "thread_pool"):
            assert 0 < r[f"{side}_calls/s"] <= r["ideal_calls/s"] * 1.05  # no side beats the latency
        assert r["ratio"] == r["bolt-eval_calls/s"] / r["thread_pool_calls/s"]
        assert r["bolt-eval_CPU_ms/call"] > 0 and r["thread_pool_CPU_ms/call"] > 0
    assert "| concurrency | calls | ideal calls/s | server ceiling calls/s |" in record_file.with_suffix(".md").read_text()
