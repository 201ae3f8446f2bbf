"""`train ablation` on the tiny offline Llama: the set as it is, every digit corrupted, and
the set as it is through LoRA are each trained by stage 2's trainer and evaluated through
`evaluate()`; the table has the untrained row, the baseline and the others with paired deltas; a
re-run trains and evaluates nothing; a kill inside the second condition resumes it from its
last checkpoint without retraining the first; bad recipes name the file, line and key."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from conftest import MATH_FIXTURE, bolt, cli_env

from bolt_eval.training import ablation
from bolt_eval.training.recipe_file import load_recipe
from bolt_eval.types import UserError

THOUGHT = "First add 2 and 3: 2+3 = 5. Then check it: 5-3 = 2, so 5 is right."
ANSWER = f"<internal_thoughts>{THOUGHT}</internal_thoughts><external_solution>The answer is \\boxed{{5}}.</external_solution>"


def write_recipe(tmp_path: Path, model: Path, extra: tuple[dict[str, object], ...] = (), **sft: object) -> Path:
    rows = [{"messages": [{"role": "user", "content": f"Solve 2+3 ({i})."}, {"role": "assistant", "content": ANSWER}]}
            for i in range(4)]
    data = tmp_path / "base.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    recipe = {
        "name": "t", "output_dir": str(tmp_path / "out"), "model": str(model), "thoughts": "bolt",
        "eval": {"tasks": [{"name": "math500", "data": str(MATH_FIXTURE), "limit": 2}], "max_new_tokens": 8},
        "sft": {"epochs": 1, "learning_rate": 1e-3, "batch_size": 2, "max_length": 128, "logging_steps": 1,
                "device": "cpu", "warmup_ratio": 0.0, **sft},
        "ablation": {"data": str(data), "seed": 1, "conditions": [{"kind": "none"}, {"kind": "digits", "ratio": 1.0}, *extra]},
    }
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    return path


def snapshot(root: Path) -> dict[str, int]:
    """Every file under `root` with its modification time: what a re-run must not touch."""
    return {str(p.relative_to(root)): p.stat().st_mtime_ns for p in sorted(root.rglob("*")) if p.is_file()}


def test_two_conditions_trained_evaluated_and_tabled_then_a_rerun_does_nothing(tmp_path: Path, tiny_llama: Path) -> None:
    lora = {"kind": "none", "method": "lora"}  # the same set through LoRA (r 8 on this 64-wide model)
    recipe = load_recipe(write_recipe(tmp_path, tiny_llama, (lora,), lora={"r": 8, "alpha": 16}))
    text = ablation.run(recipe, progress=False)
    folder = tmp_path / "out" / "ablation"
    base = (tmp_path / "base.jsonl").read_text()
    assert (folder / "none" / "data.jsonl").read_text() == base  # the set as it is (same rows, same keys order)
    digits = [json.loads(line) for line in (folder / "digits-100" / "data.jsonl").read_text().splitlines()]
    for row in digits:  # every number of the assistant turn drawn from 0..10, the prompt untouched
        turn = row["messages"][-1]["content"]
        assert turn != ANSWER and row["messages"][0]["content"].startswith("Solve 2+3")
        assert all(0 <= int(n) <= 10 for n in re.findall(r"\d+", turn))
    report = json.loads((folder / "digits-100" / "data.jsonl.report.json").read_text())
    assert (report["kind"], report["ratio"], report["seed"], report["rows"], report["changed"]) == ("digits", 1.0, 1, 4, 4)

    slugs = ("none", "digits-100", "none-lora")
    manifests = {s: json.loads((folder / s / "sft" / "manifest.json").read_text()) for s in slugs}
    for m in manifests.values():  # 4 rows, batch 2, 1 epoch
        assert (m["status"], m["examples"], m["steps"]) == ("complete", 4, 2)
    assert [manifests[s]["trainer_args"]["learning_rate"] for s in slugs] == [1e-3] * 3
    assert manifests["none-lora"]["served"].endswith("merged-final")  # the adapter, merged as served
    assert manifests["none-lora"]["trainable_parameters"] < manifests["none"]["trainable_parameters"]
    records = [json.loads(line) for line in (folder / "conditions.jsonl").read_text().splitlines()]
    assert [r["label"] for r in records] == ["t/untrained", "t/none", "t/digits-100", "t/none-lora"]
    assert [r["method"] for r in records] == [None, "full", "full", "lora"]
    entries = [json.loads((folder / r["slug"] / "trajectory.jsonl").read_text()) for r in records]
    assert len({e["fingerprint"] for e in entries}) == 4  # untrained, and three different trained models
    assert entries[3]["lora"] and entries[3]["evaluated"].endswith("merged-final")

    table = json.loads((folder / "table.json").read_text())
    assert table["baseline"] == "t/none" and table["models"] == [r["label"] for r in records]
    cells = {r["model"]: r for r in table["rows"] if r["kind"] == "headline"}
    assert list(cells) == [r["label"] for r in records]
    assert all(c["task"] == "math500" and c["n"] == 2 for c in cells.values())
    assert cells["t/none"]["delta"] is None
    for label in ("t/untrained", "t/digits-100", "t/none-lora"):  # paired to the baseline over the same 2 items
        c = cells[label]
        assert c["delta"] == pytest.approx(c["mean"] - cells["t/none"]["mean"])
        assert c["delta_lo"] <= c["delta"] <= c["delta_hi"]
    lines = text.splitlines()
    assert next(line for line in lines if line.startswith("| t/none")).startswith("| t/none (baseline)")
    assert "Δ" in next(line for line in lines if line.startswith("| t/digits-100"))
    assert "## Conditions" in text and (folder / "table.md").read_text() == text

    before = snapshot(folder)
    again = ablation.run(recipe, progress=False)
    after = snapshot(folder)
    changed = {k for k in after if before.get(k) != after[k]}
    assert changed <= {".lock", "manifest.json", "table.md", "table.json"}, changed  # nothing trained or evaluated
    assert again == text


def test_killed_in_the_second_condition_resumes_it_without_retraining_the_first(tmp_path: Path, tiny_llama: Path) -> None:
    path = write_recipe(tmp_path, tiny_llama, epochs=2, save_steps=1)  # 4 steps, a save after each
    folder = tmp_path / "out" / "ablation"
    cmd = [sys.executable, "-m", "bolt_eval.cli", "train", "ablation", "--recipe", str(path), "--no-progress"]
    proc = subprocess.Popen(cmd, env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    first = folder / "digits-100" / "sft" / "checkpoint-1" / "trainer_state.json"
    deadline = time.monotonic() + 900  # generous: a shared 2-core machine under load is slow
    while not first.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    stderr = proc.communicate()[1]
    assert first.exists(), stderr[-3000:]
    assert not (folder / "digits-100" / "sft" / "checkpoint-4").exists()  # killed before the end
    none_sft = snapshot(folder / "none")
    done = subprocess.run(cmd, env=cli_env(), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert snapshot(folder / "none") == none_sft  # the first condition: not retrained, not re-evaluated
    assert "none: complete with this configuration, skipped" in done.stderr
    digits = json.loads((folder / "digits-100" / "sft" / "manifest.json").read_text())
    assert digits["status"] == "complete" and digits["steps"] == 4
    assert digits["resumed_from"].endswith(("checkpoint-1", "checkpoint-2", "checkpoint-3"))
    keys = [json.loads(line)["key"] for line in (folder / "conditions.jsonl").read_text().splitlines()]
    assert len(keys) == len(set(keys)) == 3
    assert len(list((folder / "results").glob("t_*--math500--*"))) == 3  # one run per row, none twice
    assert "| t/digits-100" in done.stdout


def write_bad(tmp_path: Path, conditions: str) -> Path:
    path = tmp_path / "bad.yaml"
    path.write_text(f"name: t\noutput_dir: {tmp_path / 'out'}\nmodel: default\nsft: {{}}\nablation:\n  data: x.jsonl\n"
                    f"  conditions:\n{conditions}")
    return path


@pytest.mark.parametrize(("conditions", "message"), [
    ("    - {kind: none}\n    - {kind: digit, ratio: 0.5}\n",
     "line 9, key 'ablation.conditions.1.kind': Value error, unknown perturbation kind; did you mean 'digits'?"),
    ("    - {kind: none}\n    - {kind: shuffle, ratio: 1.5}\n",
     "line 9, key 'ablation.conditions.1.ratio': Value error, ratio is a share: write a number from 0 to 1"),
    ("    - {kind: digits, ratio: 0.5}\n",
     "line 5, key 'ablation': Value error, no unperturbed condition to pair the deltas with; add `- {kind: none}`"),
    ("    - {kind: none}\n    - {kind: digits, ratio: 0.5}\n    - {kind: digits, ratio: 0.5}\n",
     "condition digits-50 is listed twice"),
])
def test_bad_recipe_names_file_line_key_and_fix(tmp_path: Path, conditions: str, message: str) -> None:
    path = write_bad(tmp_path, conditions)
    with pytest.raises(UserError) as err:
        load_recipe(path)
    assert str(err.value).startswith(f"{path}: invalid recipe:") and message in str(err.value)


def test_cli_refuses_bad_input_with_exit_2_before_training(tmp_path: Path) -> None:
    bad = bolt("train", "ablation", "--recipe", str(write_bad(tmp_path, "    - {kind: none}\n    - {kind: digits, ratio: 2}\n")))
    assert bad.returncode == 2 and "ablation.conditions.1.ratio" in bad.stderr
    good = write_bad(tmp_path, "    - {kind: none}\n")
    missing = bolt("train", "ablation", "--recipe", str(good))
    assert missing.returncode == 2 and "ablation.data x.jsonl: no such file" in missing.stderr
    (tmp_path / "x.jsonl").write_text("{}\n")
    unknown = bolt("train", "ablation", "--recipe", str(good), "--set", f"ablation.data={tmp_path / 'x.jsonl'}",
                   "--reference", "structure-not-contnt")
    assert unknown.returncode == 2 and "unknown reference 'structure-not-contnt'" in unknown.stderr
    assert not (tmp_path / "out").exists()  # nothing half-written
