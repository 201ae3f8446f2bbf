"""ZebraLogic puzzle records in the official grid-mode schema, plus size arithmetic.

A record (one line of a puzzle JSONL, or one row of allenai/ZebraLogicBench `grid_mode`)
has the fields `id`, `size` ("N*M": N houses, M attributes), `puzzle` (the text: intro,
one bullet per attribute, "## Clues:" and numbered clues), `solution` ({"header":
["House", attr1, ...], "rows": [["1", v, ...], ...]}) and optionally `created_at`.
`from_record` checks every field so a bad file fails at load time, naming the place.

Size buckets are the ZebraLogic paper's (Lin et al. 2025, arXiv:2502.01100), by search
space size |S| = (N!)^M: Small |S| < 10^3, Medium 10^3 <= |S| < 10^6, Large
10^6 <= |S| < 10^10, X-Large |S| >= 10^10 (thresholds as given on the paper's alphaxiv
benchmark page, dev.alphaxiv.org/benchmarks/university-of-washington/zebralogic). The
official scorer (WildEval/ZeroEval src/evaluation/zebra_grid_eval.py) has no such buckets;
it reports "Easy" vs "Hard" puzzle accuracy by grid size, which `zeroeval_split` gives.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

Solution = dict[str, list[Any]]  # {"header": list[str], "rows": list[list[str]]}

BUCKETS = ("small", "medium", "large", "x-large")
# ZeroEval zebra_grid_eval.py `easy_sizes`; every other size counts as "hard" there.
ZEROEVAL_EASY_SIZES = frozenset({"2*2", "2*3", "2*4", "2*5", "2*6", "3*2", "3*3"})

_SIZE_RE = re.compile(r"^([1-9][0-9]*)\*([1-9][0-9]*)$")


def parse_size(size: str) -> tuple[int, int]:
    """"3*4" -> (3 houses, 4 attributes); ValueError on anything else."""
    match = _SIZE_RE.match(size)
    if match is None:
        raise ValueError(f"size must look like '3*4' (houses*attributes), got {size!r}")
    return int(match.group(1)), int(match.group(2))


def search_space(n_houses: int, n_attributes: int) -> int:
    """(N!)^M: the number of grids before any clue (each attribute is a permutation)."""
    return math.factorial(n_houses) ** n_attributes


def size_bucket(n_houses: int, n_attributes: int) -> str:
    """The paper's search-space bucket: small, medium, large or x-large."""
    space = search_space(n_houses, n_attributes)
    if space < 10**3:
        return "small"
    if space < 10**6:
        return "medium"
    if space < 10**10:
        return "large"
    return "x-large"


def zeroeval_split(size: str) -> str:
    """"easy" or "hard", as the official ZeroEval leaderboard splits puzzles by size."""
    parse_size(size)
    return "easy" if size in ZEROEVAL_EASY_SIZES else "hard"


@dataclass(frozen=True)
class Puzzle:
    """One grid-mode puzzle and its hidden solution."""

    id: str
    size: str
    puzzle: str
    solution: Solution
    created_at: str | None = None

    @property
    def n_houses(self) -> int:
        return parse_size(self.size)[0]

    @property
    def n_attributes(self) -> int:
        return parse_size(self.size)[1]

    @property
    def bucket(self) -> str:
        return size_bucket(self.n_houses, self.n_attributes)

    def to_record(self) -> dict[str, Any]:
        """The official grid-mode record (created_at only when set)."""
        record: dict[str, Any] = {
            "id": self.id,
            "size": self.size,
            "puzzle": self.puzzle,
            "solution": {
                "header": list(self.solution["header"]),
                "rows": [list(row) for row in self.solution["rows"]],
            },
        }
        if self.created_at is not None:
            record["created_at"] = self.created_at
        return record

    @classmethod
    def from_record(cls, record: Any, where: str) -> Puzzle:
        """Check and load one record; errors read "<where>: field 'x' ..."."""
        if not isinstance(record, dict):
            raise ValueError(f"{where}: expected a JSON object, got {type(record).__name__}")
        ident = _string(record, "id", where)
        size = _string(record, "size", where)
        try:
            n_houses, n_attributes = parse_size(size)
        except ValueError as err:
            raise ValueError(f"{where}: field 'size': {err}") from err
        text = _string(record, "puzzle", where)
        solution = _solution(record, where, n_houses, n_attributes)
        created_at = record.get("created_at")
        if created_at is not None and not isinstance(created_at, str):
            raise ValueError(f"{where}: field 'created_at' must be a string, got {type(created_at).__name__}")
        return cls(ident, size, text, solution, created_at)


def _string(record: dict[str, Any], name: str, where: str) -> str:
    if name not in record:
        raise ValueError(f"{where}: missing field '{name}'")
    value = record[name]
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{where}: field '{name}' must be a non-empty string, got {value!r:.60}")
    return value


def _solution(record: dict[str, Any], where: str, n_houses: int, n_attributes: int) -> Solution:
    if "solution" not in record:
        raise ValueError(f"{where}: missing field 'solution'")
    solution = record["solution"]
    if not isinstance(solution, dict):
        raise ValueError(f"{where}: field 'solution' must be an object with 'header' and 'rows'")
    header = solution.get("header")
    if not isinstance(header, list) or not all(isinstance(h, str) and h for h in header):
        raise ValueError(f"{where}: field 'solution.header' must be a list of non-empty strings")
    if len(header) != n_attributes + 1 or header[0] != "House":
        raise ValueError(
            f"{where}: field 'solution.header' must be ['House'] plus {n_attributes} attribute names"
            f" (size {n_houses}*{n_attributes}), got {header}"
        )
    if len(set(header)) != len(header):
        raise ValueError(f"{where}: field 'solution.header' repeats a name: {header}")
    rows = solution.get("rows")
    if not isinstance(rows, list) or len(rows) != n_houses:
        raise ValueError(f"{where}: field 'solution.rows' must be a list of {n_houses} rows (one per house)")
    for i, row in enumerate(rows):
        if not isinstance(row, list) or len(row) != len(header) or not all(isinstance(c, str) for c in row):
            raise ValueError(f"{where}: field 'solution.rows[{i}]' must be a list of {len(header)} strings")
    return {"header": list(header), "rows": [list(row) for row in rows]}
