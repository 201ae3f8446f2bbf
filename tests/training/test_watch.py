"""`bolt-eval watch`: a checkpoint still being written is left alone, picked up once
complete; a complete one is evaluated once (also across a restart of the watcher)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from bolt_eval.training.checkpoints import fingerprint, incomplete_reason
from bolt_eval.training.recipe import EvalSettings, EvalTask
from bolt_eval.training.trajectory import Trajectory
from bolt_eval.training.watch import Watcher, watch

MATH_FIXTURE = Path(__file__).resolve().parents[2] / "tasks" / "math500" / "fixture.jsonl"


def perturbed_copy(src: Path, dst: Path) -> Path:
    """The tiny Llama with other weights (another training step)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(src)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.01)
    model.save_pretrained(dst)
    AutoTokenizer.from_pretrained(src).save_pretrained(dst)
    return dst


def test_half_written_checkpoint_waits_then_is_evaluated_once(tmp_path: Path, tiny_llama: Path) -> None:
    root = tmp_path / "trainer-out"
    shutil.copytree(tiny_llama, root / "checkpoint-10")
    staged = perturbed_copy(tiny_llama, tmp_path / "staged")
    slow = root / "checkpoint-20"
    slow.mkdir()
    for f in staged.iterdir():
        if f.name != "model.safetensors":
            shutil.copy(f, slow / f.name)
    data = (staged / "model.safetensors").read_bytes()
    with open(slow / "model.safetensors", "wb") as fh:  # the trainer is half-way through its weights
        fh.write(data[: len(data) // 2])
    assert incomplete_reason(slow) == "model.safetensors is still being written"

    settings = EvalSettings(tasks=[EvalTask(name="math500", data=str(MATH_FIXTURE), limit=2)], max_new_tokens=4)
    w = Watcher(root, settings, label_prefix="run-", progress=False)
    ready, waiting = w.poll()
    assert ready == [] and set(waiting) == {root / "checkpoint-10", slow}  # checkpoint-10 seen once: not yet still
    ready, waiting = w.poll()
    assert ready == [root / "checkpoint-10"] and list(waiting) == [slow]
    text = watch(Watcher(root, settings, label_prefix="run-", progress=False), once=True, settle=0.05)
    assert "run-10" in text and "not complete yet, left for the next run: checkpoint-20" in text
    [entry] = Trajectory(root).entries()
    assert (entry["label"], entry["step"], entry["fingerprint"]) == ("run-10", 10, fingerprint(root / "checkpoint-10"))

    with open(slow / "model.safetensors", "ab") as fh:  # the trainer finishes writing
        fh.write(data[len(data) // 2:])
    assert incomplete_reason(slow) is None
    out = subprocess.run([sys.executable, "-m", "bolt_eval.cli", "watch", str(root), "--once", "--label-prefix", "run-",
                          "--data", f"math500={MATH_FIXTURE}", "--limit", "2", "--max-new-tokens", "4", "--no-progress"],
                         capture_output=True, text=True, env=dict(os.environ), timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "run-20" in out.stdout and "run-10" not in out.stdout  # restarted watcher: only the new one
    entries = Trajectory(root).entries()
    assert [e["label"] for e in entries] == ["run-10", "run-20"]
    assert len((root / "trajectory.jsonl").read_text().splitlines()) == 2
    for e in entries:
        [run_id] = e["run_ids"]
        assert json.loads((root / "results" / run_id / "summary.json").read_text())["n_samples"] == 2
