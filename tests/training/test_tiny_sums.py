"""`nox -s train`'s recipe (tiny-cpu-sums) end to end on the embedded SmolLM2-135M-Instruct,
cut to a few minutes: stage 1 on 2 queries, SFT on 32 of the traces for one epoch, one
online DPO iteration on 8 prompts x 8 samples, every checkpoint evaluated on 8 sums, then the report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import bolt

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_the_sums_recipe_trains_every_stage_on_the_embedded_model(tmp_path: Path) -> None:
    traces = (ROOT / "training" / "queries" / "tiny-sums-sft.jsonl").read_text().splitlines()
    data = tmp_path / "sft.jsonl"
    data.write_text("\n".join(traces[:32]) + "\n")
    out = tmp_path / "out"
    held = {"path": str(ROOT / "training" / "queries" / "tiny-sums-heldout.jsonl"), "task": "math500", "limit": 4}
    run = bolt("train", "pipeline", "--recipe", str(ROOT / "training" / "recipes" / "tiny-cpu-sums.yaml"),
               "--set", f"output_dir={out}", "--set", "queries.max_queries=2", "--set", "bootstrap.n=2",
               "--set", f"sft.data={data}", "--set", "sft.epochs=1", "--set", "sft.save_steps=1000",
               "--set", "eval.limit=8", "--set", "online.iterations=1", "--set", "online.prompts_per_iteration=8",
               "--set", "online.n=8", "--set", "online.held_out_n=2", "--set", f"online.held_out=[{json.dumps(held)}]",
               "--reference", "bolt-paper", "--no-progress", timeout=1500)
    assert run.returncode == 0, run.stderr[-3000:]
    entries = [json.loads(x) for x in (out / "trajectory.jsonl").read_text().splitlines()]
    by_label = {e["label"]: e for e in entries}
    init, sft, online = (by_label[f"tiny-cpu-sums/{x}"] for x in ("init", "sft/step-8", "online/iter-1"))
    assert init["adoption"]["math500"]["rate"] == 0.0  # the instruct model writes no thoughts block
    assert sft["adoption"]["math500"]["rate"] == 1.0 and online["adoption"]["math500"]["rate"] == 1.0
    # 8 steps on 32 traces already add some sums right, where the model began with almost none
    assert sft["headlines"]["math500"]["mean"] > init["headlines"]["math500"]["mean"]
    stage = json.loads((out / "online" / "manifest.json").read_text())
    it = stage["iterations"][0]
    assert stage["status"] == "complete" and it["pairs"]["groups"] == 8 and it["pairs"]["samples"] == 64
    assert it["pairs"]["pairs"] + it["pairs"]["dropped"]["all_equal"] + it["pairs"]["dropped"]["too_few_valid"] == 8
    assert stage["held_out_reward"]["1"]["reward"]["samples"] == 8  # 4 held-out prompts x 2
    report = (out / "report" / "report.md").read_text()
    assert "tiny-cpu-sums/online/iter-1" in report and "BOLT-Llama-3.1-8B" in report
