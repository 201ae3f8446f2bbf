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
