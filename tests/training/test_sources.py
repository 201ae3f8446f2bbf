"""Query sources: local files in every supported shape, the hub offline, benchmark rows, bad input."""

from __future__ import annotations

import json

import pytest

from bolt_eval.benchmarks.zebralogic import ZebraLogic
from bolt_eval.training.recipe import REPO_ROOT, DataSource
from bolt_eval.training.sources import Query, load_queries, read_query_file, write_query_file
from bolt_eval.types import UserError


def write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_first_user_turns_fields_and_ids(tmp_path):
    f = write(tmp_path / "mixed.jsonl", [
        {"id": "a", "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": " Sum 2+2. "},
                                 {"role": "assistant", "content": "4"}, {"role": "user", "content": "And 3+3?"}]},
        {"conversations": [{"from": "system", "value": "sys"}, {"from": "human", "value": "Name a prime."},
                           {"from": "gpt", "value": "7"}]},
        {"instruction": "Translate to French.", "input": "Good morning"},
        {"prompt": "Write a haiku."},
        {"query": "Why is the sky blue?"},
        {"messages": [{"role": "assistant", "content": "no user turn here"}]},
    ])
    queries, info = load_queries([DataSource(path=str(f))])
    assert [(q.id, q.prompt) for q in queries] == [
        ("a", "Sum 2+2."), (f"{f}:1", "Name a prime."), (f"{f}:2", "Translate to French.\n\nGood morning"),
        (f"{f}:3", "Write a haiku."), (f"{f}:4", "Why is the sky blue?")]
    assert all(q.source == str(f) and q.reference is None for q in queries)
    [record] = info
    assert record["rows"] == 6 and record["queries"] == 5 and record["skipped_no_text"] == 1
    assert len(record["sha256"]) == 64


def test_field_id_field_and_limit(tmp_path):
    f = write(tmp_path / "custom.jsonl", [{"uid": 10, "text": "one"}, {"uid": 11, "text": "two"}, {"uid": 12, "text": "x"}])
    queries, info = load_queries([DataSource(path=str(f), field="text", id_field="uid", limit=2)])
    assert [(q.id, q.prompt) for q in queries] == [("10", "one"), ("11", "two")]
    assert info[0]["rows"] == 2
    with pytest.raises(UserError, match=r"custom.jsonl line 1: field 'body' \(the source's field\) missing"):
        load_queries([DataSource(path=str(f), field="body")])


def test_row_without_text_names_line_and_fix(tmp_path):
    f = write(tmp_path / "bad.jsonl", [{"prompt": "fine"}, {"answer": "no question"}])
    with pytest.raises(UserError, match=r"bad.jsonl line 2: no query text: expected one of the fields .*set 'field'"):
        load_queries([DataSource(path=str(f))])


def test_duplicate_ids_name_both_lines(tmp_path):
    f = write(tmp_path / "dup.jsonl", [{"id": "q1", "prompt": "a"}, {"id": "q2", "prompt": "b"}, {"id": "q1", "prompt": "c"}])
    with pytest.raises(UserError, match=r"dup.jsonl line 3: duplicate id 'q1' \(first at .*dup.jsonl line 1\)"):
        load_queries([DataSource(path=str(f))])


def test_duplicate_ids_across_sources(tmp_path):
    a = write(tmp_path / "a.jsonl", [{"id": "same", "prompt": "a"}])
    b = write(tmp_path / "b.jsonl", [{"id": "same", "prompt": "b"}])
    with pytest.raises(UserError, match=r"b.jsonl line 1: duplicate id 'same' \(first at .*a.jsonl line 1\)"):
        load_queries([DataSource(path=str(a)), DataSource(path=str(b))])


def test_missing_file_and_source_without_location(tmp_path):
    with pytest.raises(UserError, match=r"nope.jsonl: no such file"):
        load_queries([DataSource(path=str(tmp_path / "nope.jsonl"))])
    with pytest.raises(UserError, match="exactly one of 'path'"):
        load_queries([DataSource(split="train")])


def test_hub_offline_names_dataset_and_local_path():
    with pytest.raises(UserError) as err:
        load_queries([DataSource(dataset="example-org/instructions", revision="abc123")])
    text = str(err.value)
    assert "example-org/instructions" in text and "revision abc123" in text and "path: <file>" in text
    with pytest.raises(UserError, match="pin a 'revision'"):
        load_queries([DataSource(dataset="example-org/instructions")])


def test_hub_path_through_datasets(tmp_path):
    """The `dataset:` path runs datasets.load_dataset for real (here on a local folder, offline)."""
    folder = tmp_path / "sharegpt"
    folder.mkdir()
    write(folder / "train.jsonl", [{"id": "h1", "conversations": [{"from": "human", "value": "Hello there"}]},
                                   {"id": "h2", "conversations": [{"from": "gpt", "value": "no human turn"}]},
                                   {"id": "h3", "conversations": [{"from": "human", "value": "Second"}]}])
    queries, [info] = load_queries([DataSource(dataset=str(folder), revision="main", limit=3)])
    assert [(q.id, q.prompt, q.source) for q in queries] == [("h1", "Hello there", str(folder)), ("h3", "Second", str(folder))]
    assert (info["revision"], info["split"], info["rows"], info["skipped_no_text"]) == ("main", "train", 3, 1)
    assert info["fingerprint"]


def test_benchmark_rows_keep_the_row_and_the_harness_prompt():
    path = REPO_ROOT / "training" / "queries" / "tiny-zebra.jsonl"
    queries, info = load_queries([DataSource(path=str(path), task="zebralogic")])
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert len(queries) == len(rows) == 48 and info[0]["queries"] == 48
    task = ZebraLogic()
    for q, row in zip(queries, rows):
        assert q.id == row["id"]
        assert q.reference == {"task": "zebralogic", "row": row}
        assert q.prompt == task.prompt(task.to_sample(row, "x"), 0)
    assert "# Puzzle to Solve" in queries[0].prompt and rows[0]["puzzle"].strip() in queries[0].prompt


def test_benchmark_row_in_the_wrong_schema(tmp_path):
    f = write(tmp_path / "z.jsonl", [{"id": "p1", "prompt": "not a puzzle"}])
    with pytest.raises(UserError, match=r"z.jsonl line 1: missing field 'size'"):
        load_queries([DataSource(path=str(f), task="zebralogic")])


def test_query_file_round_trip_and_errors(tmp_path):
    qs = [Query("a", "Prompt A", "src.jsonl"), Query("b", "Prompt B", "src.jsonl", {"task": "zebralogic", "row": {"k": 1}}, "math")]
    sha = write_query_file(tmp_path / "q.jsonl", qs)
    assert len(sha) == 64
    assert read_query_file(tmp_path / "q.jsonl") == qs
    write(tmp_path / "bad.jsonl", [{"id": "a", "prompt": "x"}, {"id": "b"}])
    with pytest.raises(UserError, match=r"bad.jsonl line 2: field 'prompt' missing"):
        read_query_file(tmp_path / "bad.jsonl")
    write(tmp_path / "dup.jsonl", [{"id": "a", "prompt": "x"}, {"id": "a", "prompt": "y"}])
    with pytest.raises(UserError, match=r"dup.jsonl line 2: duplicate id 'a'"):
        read_query_file(tmp_path / "dup.jsonl")
    with pytest.raises(UserError, match="no such file"):
        read_query_file(tmp_path / "absent.jsonl")
