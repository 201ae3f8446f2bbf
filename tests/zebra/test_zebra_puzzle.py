"""Puzzle records: schema checks with located errors, size arithmetic and buckets."""

from __future__ import annotations

import copy

import pytest

from bolt_eval.zebra.puzzle import Puzzle, parse_size, search_space, size_bucket, zeroeval_split

RECORD = {
    "id": "lgp-test-2x2-1",
    "size": "2*2",
    "puzzle": "There are 2 houses ...\n\n## Clues:\n1. Alice is in the first house.\n",
    "solution": {"header": ["House", "Name", "Pet"], "rows": [["1", "Alice", "cat"], ["2", "Bob", "dog"]]},
    "created_at": "2024-07-03T21:21:29.204735",
}

# Every official size and its bucket by (N!)^M: small < 1e3 <= medium < 1e6 <= large < 1e10 <= x-large.
EXPECTED_BUCKETS = {
    "small": ["2*2", "2*3", "2*4", "2*5", "2*6", "3*2", "3*3", "4*2"],
    "medium": ["3*4", "3*5", "3*6", "4*3", "4*4", "5*2", "6*2"],
    "large": ["4*5", "4*6", "5*3", "5*4", "6*3"],
    "x-large": ["5*5", "5*6", "6*4", "6*5", "6*6"],
}


def test_round_trip_keeps_every_field():
    puzzle = Puzzle.from_record(RECORD, "x.jsonl line 1")
    assert (puzzle.n_houses, puzzle.n_attributes, puzzle.bucket) == (2, 2, "small")
    assert puzzle.to_record() == RECORD


def test_created_at_is_optional_and_omitted_when_absent():
    record = {k: v for k, v in RECORD.items() if k != "created_at"}
    assert Puzzle.from_record(record, "here").to_record() == record


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda r: r.pop("solution"), "file.jsonl line 3: missing field 'solution'"),
        (lambda r: r.pop("id"), "file.jsonl line 3: missing field 'id'"),
        (lambda r: r.update(id=7), "file.jsonl line 3: field 'id' must be a non-empty string"),
        (lambda r: r.update(size="2x2"), "file.jsonl line 3: field 'size'"),
        (lambda r: r.update(puzzle=""), "file.jsonl line 3: field 'puzzle'"),
        (lambda r: r["solution"].update(header=["House", "Name"]), "field 'solution.header'"),
        (lambda r: r["solution"].update(header=["Name", "House", "Pet"]), "field 'solution.header'"),
        (lambda r: r["solution"]["rows"].pop(), "field 'solution.rows'"),
        (lambda r: r["solution"]["rows"][1].append("x"), "field 'solution.rows[1]'"),
        (lambda r: r["solution"]["rows"][0].__setitem__(1, 3), "field 'solution.rows[0]'"),
        (lambda r: r.update(created_at=5), "field 'created_at'"),
    ],
)
def test_from_record_names_place_and_field(mutate, message):
    record = copy.deepcopy(RECORD)
    mutate(record)
    with pytest.raises(ValueError) as err:
        Puzzle.from_record(record, "file.jsonl line 3")
    assert message in str(err.value)
    assert str(err.value).startswith("file.jsonl line 3: ")


def test_from_record_rejects_non_objects():
    with pytest.raises(ValueError, match=r"^row 9: expected a JSON object, got list$"):
        Puzzle.from_record([1, 2], "row 9")


def test_parse_size_and_search_space():
    assert parse_size("3*4") == (3, 4)
    assert search_space(3, 4) == 6**4 == 1296
    assert search_space(6, 6) == 720**6
    for bad in ("3x4", "3*", "0*2", " 3*4", "3*4*5"):
        with pytest.raises(ValueError):
            parse_size(bad)


def test_bucket_of_every_official_size():
    got: dict[str, list[str]] = {b: [] for b in EXPECTED_BUCKETS}
    for n in range(2, 7):
        for m in range(2, 7):
            got[size_bucket(n, m)].append(f"{n}*{m}")
    assert {b: sorted(s) for b, s in got.items()} == EXPECTED_BUCKETS


def test_bucket_edges():
    # 5*3 = 120^3 = 1,728,000 is just past 10^6; 4*4 = 331,776 just under it.
    assert (size_bucket(5, 3), size_bucket(4, 4)) == ("large", "medium")
    assert (size_bucket(4, 2), size_bucket(3, 4)) == ("small", "medium")  # 576 vs 1296
    assert (size_bucket(6, 3), size_bucket(5, 5)) == ("large", "x-large")  # 3.7e8 vs 2.5e10


def test_zeroeval_easy_hard_split():
    sizes = ("2*6", "3*3", "4*2", "3*4", "6*6")
    assert [zeroeval_split(s) for s in sizes] == ["easy", "easy", "hard", "hard", "hard"]
