"""The committed reference rows (results/reference/): the BOLT paper's Tables 1-3 and Table 2
of "Structure, not content", rendered by `bolt-eval compare --reference NAME` beside the
user's own rows, each labelled with its table and never given a delta."""

from __future__ import annotations

import yaml
from conftest import ROOT
from run_factory import math_run

from bolt_eval.cli import main
from bolt_eval.comparing.reference import load_reference

SHARED = ROOT.parent / "shared" / "references"


def compare_markdown(capsys, root, name):
    code = main(["compare", "--root", str(root), "--reference", name, "--format", "markdown", "--no-breakdowns"])
    out = capsys.readouterr()
    assert code == 0, out.err
    return out.out


def row(text, label):
    return next(line for line in text.splitlines() if line.startswith(f"| {label} "))


def test_bolt_paper_tables_beside_the_users_rows(tmp_path, capsys):
    root = tmp_path / "results"
    math_run(root, "my-ckpt", {0, 1, 2})
    ref = load_reference("bolt-paper")
    assert [r.table for r in ref.rows] == ["Table 1"] * 2 + ["Table 2"] * 3 + ["Table 3"] * 4
    text = compare_markdown(capsys, root, "bolt-paper")
    assert row(text, "my-ckpt").count("50.0") == 1  # the user's MATH500: 3 of 6
    instruct = row(text, "BOLT-Llama-3.1-8B-Instruct [reference: bolt-paper, Table 2]")
    assert "| 44.1 " in instruct and "| 43.0 " in instruct and "Δ" not in instruct  # WB 42.96 shown to one digit
    assert "| 51.6 " in row(text, "BOLT-Llama-3.1-8B, ORM Skywork-Reward-Llama-3.1-8B [reference: bolt-paper, Table 1]")
    assert "| 37.4 " in row(text, "PPO [reference: bolt-paper, Table 3]")
    assert "arXiv 2502.03860" in text and "not produced by this harness" in text


def test_structure_not_content_math500_column(tmp_path, capsys):
    root = tmp_path / "results"
    math_run(root, "my-ckpt", {0})
    text = compare_markdown(capsys, root, "structure-not-content")
    assert len(load_reference("structure-not-content").rows) == 19
    assert "| 5.4 " in row(text, "digits corrupted 100% [reference: structure-not-content, Table 2]")
    assert "| 84.8 " in row(text, "Qwen2.5-32B-Instruct (untrained) [reference: structure-not-content, Table 2]")
    assert "arXiv 2502.07374" in text


def test_the_files_hold_the_shared_references_numbers():
    """Every value equals the one in shared/references (when this checkout has it beside it)."""
    import pytest

    if not SHARED.is_dir():
        pytest.skip("shared/references is not beside this checkout")
    theirs = yaml.safe_load((SHARED / "bolt-paper-tables.yaml").read_text())
    published = {(f"Table {t['table']}", r["label"]): {"arena_hard": r["arena_hard_sc"], "wildbench": r["wildbench"]}
                 for t in theirs["tables"] for r in t["rows"]}
    assert {(r.table, r.label): r.values for r in load_reference("bolt-paper").rows} == published
    theirs = yaml.safe_load((SHARED / "structure-not-content.yaml").read_text())
    assert [(r.label, r.values["math500"]) for r in load_reference("structure-not-content").rows] == \
        [(r["label"], r["values"][0]) for r in theirs["rows"]]
