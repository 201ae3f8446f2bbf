"""`bolt-eval train pipeline` end to end on tiny parts: queries -> stage 1 (a scripted
bootstrapping model behind a loopback server) -> SFT of the tiny Llama -> one online DPO
iteration -> every checkpoint evaluated -> the report with Figures 5 and 6 and the paper's
rows. Then the same command again: every stage skipped, nothing generated; then stage 3
over with another setting: the report shows the new iteration only."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from conftest import bolt
from openai_server import LoopbackServer

from bolt_eval.training.trajectory import Trajectory

SUMS = [(2, 9), (4, 7), (3, 8), (6, 5), (1, 12), (7, 7)]
PROBLEMS = [{"problem": f"What is ${a}+{b}$?", "answer": str(a + b), "subject": "Prealgebra", "level": 1,
             "unique_id": f"test/sums/{a}-{b}.json"} for a, b in SUMS]


def reply(body: dict) -> str:
    """Short scripted long-CoT replies (the tiny Llama's context is 512 tokens), by seed."""
    prompt, seed = body["messages"][-1]["content"], body.get("seed", 0)
    row = next(r for r in PROBLEMS if r["problem"] in prompt)
    kind = (seed + int(row["answer"])) % 3
    if kind == 2:
        return "The answer is 3."  # no thoughts: rejected by the format rules
    answer = row["answer"] if kind == 0 else "0"
    return f"<internal_thoughts>Add. Wait, check.</internal_thoughts><external_solution>$\\boxed{{{answer}}}$</external_solution>"


def test_pipeline_runs_every_stage_then_skips_them(tmp_path: Path, tiny_llama: Path, tiny_reward_model: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    queries = tmp_path / "queries.jsonl"
    queries.write_text("".join(json.dumps(r) + "\n" for r in PROBLEMS[:5]))
    evalset = tmp_path / "eval.jsonl"
    evalset.write_text(json.dumps(PROBLEMS[5]) + "\n")
    out = tmp_path / "out"
    with LoopbackServer(reply) as server:
        recipe = {
            "name": "pipe", "output_dir": str(out), "model": str(tiny_llama), "thoughts": "bolt",
            "eval": {"tasks": [{"name": "math500", "data": str(evalset)}], "max_new_tokens": 8, "mode": "inline"},
            "queries": {"sources": [{"path": str(queries), "task": "math500"}], "judge": None},
            "bootstrap": {"generator": {"model": "scripted", "backend": "openai", "base_url": server.base_url,
                                        "batch_size": 3}, "k": 1, "n": 2, "percentile": 0},
            "reward": [{"kind": "classifier", "model": {"model": str(tiny_reward_model), "device": "cpu"}},
                       {"kind": "format", "weight": 0.5}],
            "sft": {"epochs": 1, "learning_rate": 1e-3, "batch_size": 2, "max_length": 256, "device": "cpu",
                    "logging_steps": 1, "warmup_ratio": 0.0},
            "online": {"iterations": 1, "prompts": [{"path": str(queries), "task": "math500"}], "n": 2,
                       "max_new_tokens": 8, "batch_size": 2, "epochs": 1, "learning_rate": 1e-4,
                       "warmup_ratio": 0.0, "device": "cpu", "max_length": 256},
        }
        path = tmp_path / "recipe.yaml"
        path.write_text(yaml.safe_dump(recipe))
        first = bolt("train", "pipeline", "--recipe", str(path), "--reference", "bolt-paper", "--no-progress",
                     timeout=900)
        assert first.returncode == 0, first.stderr[-3000:]
        calls = len(server.requests)
        assert calls == 5 * 2
        for stage in ("queries", "bootstrap", "sft", "online"):
            assert json.loads((out / stage / "manifest.json").read_text())["status"] == "complete", stage
        entries = [json.loads(x) for x in (out / "trajectory.jsonl").read_text().splitlines()]
        stages = [e["stage"] for e in entries]
        assert stages[0] == "init" and "sft" in stages and stages[-1] == "online"
        report = (out / "report" / "report.md").read_text()
        for e in entries:
            assert e["label"] in report
        assert "Mean ORM reward per online iteration" in report
        assert "BOLT-Llama-3.1-8B" in report  # the paper's published rows beside the user's
        for name in ("figure5.png", "figure6.png", "figure5.svg", "report.html"):
            assert (out / "report" / name).stat().st_size > 1000, name
        trajectory_bytes = (out / "trajectory.jsonl").read_bytes()

        again = bolt("train", "pipeline", "--recipe", str(path), "--no-progress", timeout=600)
        assert again.returncode == 0, again.stderr[-3000:]
        assert len(server.requests) == calls  # nothing generated again
        assert (out / "trajectory.jsonl").read_bytes() == trajectory_bytes  # nothing evaluated again
        said = dict(part.split("\n", 1) for part in again.stderr.split("bolt-eval: pipeline: stage ")[1:])
        assert list(said) == ["queries", "bootstrap", "sft", "online"], again.stderr[-2000:]
        for stage, text in said.items():  # every stage says it was skipped
            assert "skipped" in text.splitlines()[0], (stage, text[:500])

        # stage 3 over with another setting (its folder removed, as the refusal says): the old
        # iteration's entry is retired, so the report holds the new iteration 1 alone
        shutil.rmtree(out / "online")
        over = bolt("train", "pipeline", "--recipe", str(path), "--set", "online.learning_rate=2e-4", "--no-progress",
                    timeout=600)
        assert over.returncode == 0, over.stderr[-3000:]
        assert "1 entries of an earlier online run retired (stage 3 starts over)" in over.stderr
        now = Trajectory(out).entries()
        assert [e["stage"] for e in now].count("online") == 1 and now[-1]["fingerprint"] != entries[-1]["fingerprint"]
        order = next(x for x in (out / "report" / "report.md").read_text().splitlines() if "Rows in training order" in x)
        assert order.count("pipe/online/iter-1") == 1, order
