"""The cheap parts of the lm-eval integration, without running lm-eval: backend -> lm-eval
model mapping, the API key kept out of model_args, the retention suites as the CLI reads them,
headline and item rules, and the committed Table 3 reference rows against shared/references."""

from __future__ import annotations

import math
import os
import re
from pathlib import Path

import pytest
import yaml

from bolt_eval.backends.base import BackendSpec
from bolt_eval.lmeval.items import LmEvalItems, headline, item_records, paired_items
from bolt_eval.lmeval.models import api_key, lm_eval_model
from bolt_eval.types import UserError

SHARED = Path(__file__).resolve().parents[3] / "shared" / "references"


def test_hf_and_vllm_load_what_bolt_eval_loads(tiny_llama):
    name, args = lm_eval_model(BackendSpec("hf", str(tiny_llama), device="cpu", batch_size=4), thoughts="think")
    assert name == "hf" and args == {"pretrained": str(tiny_llama.resolve()), "trust_remote_code": False,
                                     "device": "cpu", "batch_size": 4, "dtype": "float32", "think_end_token": "</think>"}
    name, args = lm_eval_model(BackendSpec("vllm", str(tiny_llama), options={"tensor_parallel_size": 2}))
    assert name == "vllm" and args["tensor_parallel_size"] == 2 and args["batch_size"] == "auto"
    assert "think_end_token" not in args


def test_openai_is_local_chat_completions_and_the_key_stays_out(tmp_path, monkeypatch):
    spec = BackendSpec("openai", "served-model", base_url="http://127.0.0.1:9/v1/", api_key_env="MY_KEY", concurrency=3)
    name, args = lm_eval_model(spec)
    assert name == "local-chat-completions" and args["base_url"] == "http://127.0.0.1:9/v1/chat/completions"
    assert args["model"] == "served-model" and args["num_concurrent"] == 3 and "key" not in str(args).lower()
    monkeypatch.setenv("MY_KEY", "sk-test")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with api_key(spec):
        assert os.environ["OPENAI_API_KEY"] == "sk-test"
    assert "OPENAI_API_KEY" not in os.environ  # put back as it was
    with pytest.raises(UserError, match="--base-url"):
        lm_eval_model(BackendSpec("openai", "m"))
    with pytest.raises(UserError, match="backends hf, vllm, openai, not replay"):
        lm_eval_model(BackendSpec("replay", "answers.jsonl"))


@pytest.mark.parametrize("suite", ["retention", "retention-lite"])
def test_retention_suites_route_to_lm_eval(suite):
    from bolt_eval.cli import build_parser
    from bolt_eval.run_config import eval_config

    cfg = eval_config(build_parser().parse_args(["run", "--model", "default", "--suite", suite, "--limit", "5"]))
    assert [t.name for t in cfg.tasks][:2] in (["lm-eval:mmlu", "lm-eval:arc_challenge"],
                                               ["lm-eval:mmlu_lite", "lm-eval:arc_challenge_lite"])
    assert [t.options["metric"] for t in cfg.tasks] == ["acc,none", "acc_norm,none", "prompt_level_strict_acc,none",
                                                        "exact_match,flexible-extract"]
    assert all(t.limit == 5 for t in cfg.tasks)
    if suite == "retention-lite":  # the custom task folder, resolved against the repository root
        assert all(Path(t.options["lm_eval_include"]).is_dir() for t in cfg.tasks)


def test_data_flag_and_unknown_option_are_refused():
    from bolt_eval.cli import build_parser
    from bolt_eval.run_config import eval_config

    with pytest.raises(UserError, match="applies to none of the selected tasks"):
        eval_config(build_parser().parse_args(["run", "--model", "m", "--tasks", "math500", "--lm-eval-include", "x"]))
    cfg = eval_config(build_parser().parse_args(["run", "--model", "m", "--tasks", "lm-eval:mmlu", "--lm-eval-include", "x"]))
    assert cfg.tasks[0].options == {"lm_eval_include": "x"}


def test_tag_headline_is_the_item_mean_and_corpus_metrics_are_not_paired():
    samples = {"t_en": [{"doc_id": 0, "filter": "flexible-extract", "exact_match": 1.0, "metrics": ["exact_match"]},
                        {"doc_id": 1, "filter": "flexible-extract", "exact_match": 0.0, "metrics": ["exact_match"]},
                        {"doc_id": 0, "filter": "remove_whitespace", "exact_match": 0.0, "metrics": ["exact_match"]}],
               "t_de": [{"doc_id": 0, "filter": "flexible-extract", "exact_match": 1.0, "metrics": ["exact_match"]}]}
    records = item_records(samples, "exact_match,flexible-extract")
    assert [(r["id"], r["value"]) for r in records] == [("t_de/0", 1.0), ("t_en/0", 1.0), ("t_en/1", 0.0)]
    results = {"results": {"t_en": {"exact_match,flexible-extract": 0.5}, "t_de": {"exact_match,flexible-extract": 1.0}}}
    head = headline(results, "t", "exact_match,flexible-extract", records)  # a tag: lm-eval has no "t" row
    assert head["mean"] == pytest.approx(2 / 3) and head["n"] == 3
    assert head["stderr"] == pytest.approx(math.sqrt(1 / 3) / math.sqrt(3))  # sample sd / sqrt(n)
    assert head["hi"] == 1.0 and head["lo"] == pytest.approx(2 / 3 - 1.96 * head["stderr"])  # clipped to [0, 1]
    assert paired_items(records, head["mean"]) is None
    assert "not the mean" in paired_items(records, 0.9)
    with pytest.raises(UserError, match="no metric 'acc,none'.*exact_match,flexible-extract"):
        headline(results, "t", "acc,none", item_records(samples, "acc,none"))
    with pytest.raises(NotImplementedError):
        LmEvalItems().item_values([], [{"id": "x"}])


def test_reference_rows_are_the_shared_table_3():
    from bolt_eval.comparing.reference import load_reference

    if not SHARED.is_dir():
        pytest.skip("shared/references is not beside this checkout")
    text = yaml.safe_load((SHARED / "structure-not-content.yaml").read_text())["method"]["retention_table_3"]
    published = [float(x) for x in re.findall(r"\b\d\d\.\d\b", text)]
    rows = load_reference("structure-not-content-retention").rows
    assert [v for r in rows for v in r.values.values()] == published
    assert list(rows[0].values) == ["lm-eval:mmlu", "lm-eval:arc_challenge", "lm-eval:leaderboard_ifeval",
                                    "lm-eval:mgsm_direct"]
