"""Recipes: every shipped recipe validates; bad recipes fail with the file, line, key and fix."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from conftest import ROOT, bolt

from bolt_eval.training.recipe_file import load_recipe
from bolt_eval.types import UserError

RECIPES = sorted((ROOT / "training" / "recipes").glob("*.yaml"))
REFERENCE = yaml.safe_load((ROOT.parent / "shared" / "references" / "bolt-paper-tables.yaml").read_text()) \
    if (ROOT.parent / "shared" / "references" / "bolt-paper-tables.yaml").is_file() else None


@pytest.mark.parametrize("path", RECIPES, ids=[p.stem for p in RECIPES])
def test_shipped_recipes_validate_and_name_their_files(path: Path) -> None:
    r = load_recipe(path)
    assert r.name and r.output_dir and r.source == str(path)
    for rel in [r.bootstrap.exemplars if r.bootstrap else None, r.chat_template]:
        assert rel is None or (ROOT / rel).exists(), rel
    for src in (r.queries.sources if r.queries else []) + (r.online.prompts if r.online else []):
        assert src.path is None or (ROOT / src.path).is_file(), src.path


def test_paper_recipe_holds_the_papers_numbers() -> None:
    r = load_recipe(ROOT / "training" / "recipes" / "llama-3.1-8b.yaml")
    assert (r.bootstrap.k, r.bootstrap.n, r.bootstrap.percentile, r.queries.min_criteria) == (3, 8, 30, 5)
    assert (r.sft.epochs, r.sft.learning_rate, r.sft.max_length, r.sft.warmup_ratio) == (4, 2e-5, 16384, 0.1)
    assert r.sft.batch_size * r.sft.gradient_accumulation_steps * 8 == 128
    o = r.online
    assert (o.iterations, o.epochs, o.n, o.temperature, o.top_p, o.beta, o.learning_rate, o.reference) == \
        (3, 2, 8, 1.0, 1.0, 0.1, 5e-7, "sft")
    if REFERENCE:  # the numbers above are the reference file's
        ref = REFERENCE["recipe"]
        assert ref["sft"]["lr"] == r.sft.learning_rate and ref["online"]["dpo"]["beta"] == o.beta
        assert ref["online"]["sampling"]["n"] == o.n and ref["online"]["iterations"] == o.iterations


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "r.yaml"
    p.write_text(text)
    return p


BASE = "name: t\noutput_dir: out\nmodel: default\n"


def test_unknown_key_names_line_and_suggests(tmp_path: Path) -> None:
    p = write(tmp_path, BASE + "sft:\n  method: lora\n  learning_rat: 1e-4\n")
    with pytest.raises(UserError) as err:
        load_recipe(p)
    assert f"{p}: invalid recipe:" in str(err.value)
    assert "line 6, key 'sft.learning_rat': unknown key; did you mean 'learning_rate'?" in str(err.value)


def test_wrong_type_and_missing_key(tmp_path: Path) -> None:
    p = write(tmp_path, "name: t\noutput_dir: out\nsft:\n  epochs: many\n")
    with pytest.raises(UserError) as err:
        load_recipe(p)
    text = str(err.value)
    assert "key 'model': required, missing; add it" in text
    assert "line 4, key 'sft.epochs': Input should be a valid number" in text and "'many'" in text


def test_set_overrides_are_typed_and_recorded(tmp_path: Path) -> None:
    p = write(tmp_path, BASE + "sft:\n  method: full\n")
    r = load_recipe(p, ["sft.learning_rate=1e-4", "sft.method=lora", "online.beta=0.2"])
    assert r.sft.learning_rate == 1e-4 and r.sft.method == "lora" and r.online.beta == 0.2
    assert r.overrides == ["sft.learning_rate=1e-4", "sft.method=lora", "online.beta=0.2"]
    with pytest.raises(UserError, match="--set sft: write KEY=VALUE"):
        load_recipe(p, ["sft"])
    with pytest.raises(UserError, match="'name' is not a section"):
        load_recipe(p, ["name.x=1"])


def test_nll_weight_belongs_to_dpo(tmp_path: Path) -> None:
    p = write(tmp_path, BASE + "online:\n  algorithm: rloo\n  nll_weight: 1.0\n")
    with pytest.raises(UserError) as err:
        load_recipe(p)
    assert ("line 4, key 'online': Value error, nll_weight is a term of the DPO loss; algorithm rloo has none: "
            "remove it") in str(err.value)
    assert load_recipe(p, ["online.algorithm=dpo"]).online.nll_weight == 1.0


def test_warmup_ratio_is_a_share_below_one(tmp_path: Path) -> None:
    p = write(tmp_path, BASE + "sft:\n  warmup_ratio: 3\n")
    with pytest.raises(UserError) as err:  # transformers 5 would warm up for 3 steps
        load_recipe(p)
    assert ("line 5, key 'sft.warmup_ratio': Value error, warmup_ratio is the share of the training steps spent "
            "warming up: write a number from 0 up to, not including, 1 (0.1 = 10%)") in str(err.value)
    for bad in ("1.0", "-0.1"):
        with pytest.raises(UserError, match=r"key 'online.warmup_ratio': Value error, warmup_ratio is the share"):
            load_recipe(p, ["sft.warmup_ratio=0.5", f"online.warmup_ratio={bad}"])
    r = load_recipe(p, ["sft.warmup_ratio=0", "online.warmup_ratio=0.99"])
    assert (r.sft.warmup_ratio, r.online.warmup_ratio) == (0.0, 0.99)


def test_cli_bad_recipe_exits_2_and_writes_nothing(tmp_path: Path) -> None:
    p = write(tmp_path, f"name: t\noutput_dir: {tmp_path / 'out'}\nmodel: default\nbootstrap:\n  k: 3\n")
    out = bolt("train", "bootstrap", "--recipe", str(p))
    assert out.returncode == 2
    assert "key 'bootstrap.generator': required, missing" in out.stderr
    assert not (tmp_path / "out").exists()
    missing = bolt("train", "queries", "--recipe", str(tmp_path / "nope.yaml"))
    assert missing.returncode == 2 and "no such recipe" in missing.stderr
