"""lm-eval tasks run as bolt-eval runs (bolt_eval/lmeval/run.py), on custom tasks over small
local JSONL files and the tiny offline Llama through the hf backend: the stored headline is
lm-eval's own number for the same call, the items rebuild it, a re-run is free, compare
pairs two runs item by item, and offline a built-in task fails cleanly."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from conftest import bolt
from lm_tasks import write_tasks

GROUP, GEN = "lm-eval:toy_mmlu", "lm-eval:toy_arith"


@pytest.fixture(scope="module")
def include(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tasks(tmp_path_factory.mktemp("lm-tasks"))


@pytest.fixture(scope="module")
def first(tmp_path_factory: pytest.TempPathFactory, tiny_llama: Path, include: Path) -> tuple[Path, str]:
    """`bolt-eval run` on both custom tasks, as a user runs it; (results root, stdout)."""
    root = tmp_path_factory.mktemp("results")
    out = bolt("run", "--model", str(tiny_llama), "--tasks", f"{GROUP},{GEN}", "--lm-eval-include", str(include),
               "--label", "a", "--out", str(root), "--no-progress", "--device", "cpu", "--batch-size", "4")
    assert out.returncode == 0, out.stderr[-3000:]
    return root, out.stdout


def run_dir(root: Path, label: str, task: str) -> Path:
    [folder] = root.glob(f"{label}--{task.replace(':', '_')}--*")
    return folder


def test_headline_is_lm_evals_own_number(first, tiny_llama, include):
    import lm_eval
    from lm_eval.tasks import TaskManager

    root, stdout = first
    folder = run_dir(root, "a", GROUP)
    summary = json.loads((folder / "summary.json").read_text())
    raw = json.loads((folder / "lm_eval_results.json").read_text())
    head = summary["headline"]
    assert head["metric"] == "acc,none" and head["n"] == 9 and summary["n_samples"] == 9  # 4 + 5 documents
    assert abs(head["mean"] - raw["results"]["toy_mmlu"]["acc,none"]) <= 1e-9
    assert abs(head["stderr"] - raw["results"]["toy_mmlu"]["acc_stderr,none"]) <= 1e-9
    assert head["lo"] == pytest.approx(max(0.0, head["mean"] - 1.96 * head["stderr"]), abs=1e-12)
    # the same call made directly: the same number
    direct = lm_eval.simple_evaluate(
        model="hf", model_args={"pretrained": str(tiny_llama), "dtype": "float32"}, tasks=["toy_mmlu"],
        num_fewshot=0, batch_size=4, device="cpu", log_samples=True, apply_chat_template=True,
        task_manager=TaskManager(include_path=str(include), include_defaults=False))
    assert abs(head["mean"] - direct["results"]["toy_mmlu"]["acc,none"]) <= 1e-9
    # per document, the value lm-eval logged; their mean is the headline (a group weighted by size)
    records = [json.loads(line) for line in (folder / "samples.jsonl").read_text().splitlines()]
    logged = {f"{t}/{s['doc_id']}": s["acc"] for t, ss in direct["samples"].items() for s in ss}
    assert {r["id"]: r["value"] for r in records} == logged
    assert abs(sum(r["value"] for r in records) / 9 - head["mean"]) <= 1e-9
    assert "lm-eval:toy_mmlu" in stdout and "acc,none" in stdout


def test_manifest_and_generation_task(first, tiny_llama):
    root, _ = first
    folder = run_dir(root, "a", GEN)
    manifest = json.loads((folder / "manifest.json").read_text())
    summary = json.loads((folder / "summary.json").read_text())
    raw = json.loads((folder / "lm_eval_results.json").read_text())
    assert manifest["status"] == "complete" and manifest["lm_eval"]["version"] == raw["lm_eval_version"]
    assert manifest["lm_eval"]["versions"] == {"toy_arith": 3.0}
    assert manifest["lm_eval"]["model"] == "hf" and manifest["lm_eval"]["model_args"]["pretrained"] == str(tiny_llama)
    assert set(manifest["config"]["lm_eval"]["tasks"]["toy_arith"]) == {"version", "n_docs", "config_sha256", "data_sha256"}
    assert manifest["config"]["sampling"] == {"num_fewshot": 0, "apply_chat_template": True, "gen_kwargs": None,
                                              "limit": None, "seed": 0}
    assert summary["headline"]["metric"] == "exact_match,flexible-extract"  # the first metric lm-eval reports
    assert summary["headline"]["mean"] == raw["results"]["toy_arith"]["exact_match,flexible-extract"]
    logged = [json.loads(line) for line in (folder / "lm_eval_samples.jsonl").read_text().splitlines()]
    assert len(logged) == 4 and all("<|im_start|>assistant" in s["arguments"]["gen_args_0"]["arg_0"]
                                    if isinstance(s["arguments"], dict) else "<|im_start|>assistant" in s["arguments"][0][0]
                                    for s in logged)  # the chat template was applied


def test_rerun_is_free(first, tiny_llama, include):
    root, _ = first
    folder = run_dir(root, "a", GROUP)
    before = {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in folder.iterdir() if p.is_file()}
    start = time.monotonic()
    out = bolt("run", "--model", str(tiny_llama), "--tasks", GROUP, "--lm-eval-include", str(include),
               "--label", "a", "--out", str(root), "--no-progress", "--device", "cpu", "--batch-size", "4")
    assert out.returncode == 0, out.stderr[-3000:]
    assert f"{GROUP}: finished run {folder.name} reused" in out.stderr
    assert "Running loglikelihood requests" not in out.stderr  # the model was not asked again
    after = {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in folder.iterdir() if p.is_file()}
    assert after == before
    print(f"re-run: {time.monotonic() - start:.1f} s")


def test_compare_pairs_two_runs(first, tiny_llama, include, tmp_path):
    """A second model (the tiny Llama with its output layer perturbed) through the Python API;
    compare's delta is the difference of the two headlines, paired on the 9 documents."""
    import torch
    from safetensors.torch import load_file, save_file

    from bolt_eval.backends.base import BackendSpec
    from bolt_eval.comparing import collect_runs
    from bolt_eval.comparing.table import compare
    from bolt_eval.runner import EvalConfig, TaskSpec, evaluate

    other = tmp_path / "other"
    other.mkdir()
    for f in tiny_llama.iterdir():
        (other / f.name).write_bytes(f.read_bytes())
    weights = load_file(other / "model.safetensors")
    torch.manual_seed(7)
    weights["lm_head.weight"] = weights["lm_head.weight"] + torch.randn_like(weights["lm_head.weight"])
    save_file(weights, other / "model.safetensors", metadata={"format": "pt"})
    root, _ = first
    [b] = evaluate(EvalConfig(tasks=[TaskSpec(GROUP, options={"lm_eval_include": str(include)})],
                              backend=BackendSpec("hf", str(other), device="cpu", batch_size=4),
                              out=str(root), label="b", progress=False))
    a = run_dir(root, "a", GROUP)
    runs, _ = collect_runs([str(a), str(b.dir)])
    cmp = compare(runs)
    cell_a, cell_b = cmp.cells[("a", GROUP)], cmp.cells[("b", GROUP)]
    assert cell_b.delta is not None and cell_b.delta.n == 9
    assert cell_b.delta.mean == pytest.approx(100 * (b.summary["headline"]["mean"] - cell_a.mean / 100), abs=1e-6)
    assert cell_b.delta.lo <= cell_b.delta.mean <= cell_b.delta.hi
    shown = bolt("compare", str(a), str(b.dir), "--no-breakdowns")
    assert shown.returncode == 0, shown.stderr
    row = next(line for line in shown.stdout.splitlines() if line.startswith("b "))
    assert "lm-eval:toy_mmlu acc,none (%)" in shown.stdout
    assert f"\u0394 {cell_b.delta.mean:+.1f} [{cell_b.delta.lo:+.1f}, {cell_b.delta.hi:+.1f}]" in row


def test_offline_builtin_task_names_dataset_and_fix(tiny_llama, tmp_path):
    out = bolt("run", "--model", str(tiny_llama), "--tasks", "lm-eval:arc_challenge", "--limit", "2",
               "--out", str(tmp_path / "r"), "--no-progress")
    assert out.returncode == 2
    err = out.stderr
    assert "lm-eval task arc_challenge: its dataset could not be loaded" in err and "allenai/ai2_arc" in err
    assert "HF_DATASETS_CACHE" in err and "--lm-eval-include DIR" in err and "Nothing was written" in err
    assert not (tmp_path / "r").exists() or not any((tmp_path / "r").iterdir())
