"""Exact solver for zebra (logic grid) puzzles: count solutions, prove uniqueness, solve.

The generator must prove every puzzle has exactly one solution, hundreds of times per
puzzle while it adds and prunes clues, so this is a small, fast finite-domain solver.
Each (attribute, value) pair is a variable whose domain is the set of houses it may be
in, kept as a bitmask. Propagation runs to a fixpoint: every clue narrows the two
domains it links (shifts and masks), and each attribute is a permutation (a value that
is fixed leaves its siblings' domains; a house only one value can take gets that
value). Search then branches on the variable with the smallest domain.

Clue kinds (houses are numbered 1..N from left to right):
  found_at(x, k), not_at(x, k), same_house(x, y), direct_left(x, y) (x is in the house
  just left of y), direct_right(x, y), somewhere_left(x, y), somewhere_right(x, y),
  next_to(x, y), one_between(x, y) (exactly one house between), two_between(x, y).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

Ref = tuple[str, str]  # (attribute header, value)

UNARY_KINDS = ("found_at", "not_at")
BINARY_KINDS = (
    "same_house",
    "direct_left",
    "direct_right",
    "somewhere_left",
    "somewhere_right",
    "next_to",
    "one_between",
    "two_between",
)
CLUE_KINDS = UNARY_KINDS + BINARY_KINDS

# Internal binary constraint codes: SAME x==y, LEFT x==y-1, BEFORE x<y, DIST |x-y|==d.
_SAME, _LEFT, _BEFORE, _DIST1, _DIST2, _DIST3 = range(6)
_COMPILE = {
    "same_house": (_SAME, False),
    "direct_left": (_LEFT, False),
    "direct_right": (_LEFT, True),  # x just right of y == y just left of x
    "somewhere_left": (_BEFORE, False),
    "somewhere_right": (_BEFORE, True),
    "next_to": (_DIST1, False),
    "one_between": (_DIST2, False),
    "two_between": (_DIST3, False),
}


@dataclass(frozen=True)
class Clue:
    """One constraint. Unary kinds use `house` (1-based); binary kinds use `second`."""

    kind: str
    first: Ref
    second: Ref | None = None
    house: int | None = None

    def __post_init__(self) -> None:
        if self.kind in UNARY_KINDS:
            if self.house is None or self.second is not None:
                raise ValueError(f"clue {self.kind} needs a house and no second value")
        elif self.kind in BINARY_KINDS:
            if self.second is None or self.house is not None:
                raise ValueError(f"clue {self.kind} needs a second value and no house")
            if self.second == self.first:
                raise ValueError(f"clue {self.kind} relates {self.first} to itself")
        else:
            raise ValueError(f"unknown clue kind {self.kind!r}; expected one of {CLUE_KINDS}")


class _Problem:
    """Attributes and clues compiled to bitmask domains and integer constraints."""

    def __init__(self, n: int, attributes: Mapping[str, Sequence[str]], clues: Sequence[Clue]):
        self.n = n
        self.full = (1 << n) - 1
        self.names = list(attributes)
        self.index: dict[Ref, int] = {}
        for a, attr in enumerate(self.names):
            values = list(attributes[attr])
            if len(values) != n or len(set(values)) != n:
                raise ValueError(f"attribute {attr!r} needs {n} distinct values, got {values}")
            for i, value in enumerate(values):
                self.index[(attr, value)] = a * n + i
        self.values = [list(attributes[attr]) for attr in self.names]
        self.start = [self.full] * (n * len(self.names))
        self.constraints: list[tuple[int, int, int]] = []
        for clue in clues:
            x = self._var(clue.first)
            if clue.kind in UNARY_KINDS:
                assert clue.house is not None
                if not 1 <= clue.house <= n:
                    raise ValueError(f"clue {clue} names house {clue.house}; houses are 1..{n}")
                bit = 1 << (clue.house - 1)
                self.start[x] &= bit if clue.kind == "found_at" else self.full & ~bit
            else:
                assert clue.second is not None
                y = self._var(clue.second)
                code, swap = _COMPILE[clue.kind]
                self.constraints.append((code, y, x) if swap else (code, x, y))
        self.groups = [list(range(a * n, a * n + n)) for a in range(len(self.names))]

    def _var(self, ref: Ref) -> int:
        if ref not in self.index:
            raise ValueError(f"clue refers to {ref}, which is not an attribute value of the puzzle")
        return self.index[ref]

    def propagate(self, dom: list[int]) -> bool:
        """Narrow `dom` in place to a fixpoint; False when some domain empties."""
        full = self.full
        changed = True
        while changed:
            changed = False
            for code, x, y in self.constraints:
                dx, dy = dom[x], dom[y]
                if code == _SAME:
                    nx = ny = dx & dy
                elif code == _LEFT:
                    nx = dx & (dy >> 1)
                    ny = dy & (nx << 1)
                elif code == _BEFORE:
                    nx = dx & ((1 << (dy.bit_length() - 1)) - 1)
                    ny = dy & ~(((nx & -nx) << 1) - 1)
                else:
                    d = code - _DIST1 + 1
                    nx = dx & ((dy << d) | (dy >> d)) & full
                    ny = dy & ((nx << d) | (nx >> d)) & full
                if nx != dx or ny != dy:
                    if not nx or not ny:
                        return False
                    dom[x], dom[y] = nx, ny
                    changed = True
            for group in self.groups:
                fixed = once = twice = 0
                for v in group:
                    d = dom[v]
                    twice |= once & d
                    once |= d
                    if d & (d - 1) == 0:
                        if fixed & d:
                            return False
                        fixed |= d
                if once != full:
                    return False  # some house can take no value of this attribute
                hidden = once & ~twice & ~fixed  # houses only one (unfixed) value can take
                for v in group:
                    d = dom[v]
                    if d & (d - 1) == 0:
                        continue
                    only = d & hidden
                    if only & (only - 1):
                        return False  # one value would need two houses
                    nd = only or d & ~fixed
                    if not nd:
                        return False
                    if nd != d:
                        dom[v] = nd
                        changed = True
        return True

    def search(self, dom: list[int], limit: int, found: list[list[int]]) -> None:
        """Depth-first search collecting up to `limit` complete assignments."""
        if not self.propagate(dom):
            return
        best, best_count = -1, self.n + 1
        for v, d in enumerate(dom):
            count = d.bit_count()
            if 1 < count < best_count:
                best, best_count = v, count
                if count == 2:
                    break
        if best < 0:
            found.append(dom)
            return
        d = dom[best]
        while d and len(found) < limit:
            bit = d & -d
            d ^= bit
            child = dom.copy()
            child[best] = bit
            self.search(child, limit, found)

    def decode(self, dom: list[int]) -> dict[str, list[str]]:
        grid: dict[str, list[str]] = {}
        for a, attr in enumerate(self.names):
            row = [""] * self.n
            for i, value in enumerate(self.values[a]):
                row[dom[a * self.n + i].bit_length() - 1] = value
            grid[attr] = row
        return grid


def count_solutions(
    n_houses: int, attributes: Mapping[str, Sequence[str]], clues: Sequence[Clue], limit: int = 2
) -> int:
    """How many grids satisfy every clue, counting at most `limit` (2 proves uniqueness)."""
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    problem = _Problem(n_houses, attributes, clues)
    found: list[list[int]] = []
    problem.search(problem.start.copy(), limit, found)
    return len(found)


def solve(
    n_houses: int, attributes: Mapping[str, Sequence[str]], clues: Sequence[Clue]
) -> dict[str, list[str]] | None:
    """The first grid found that satisfies every clue, or None when there is none.

    The grid maps each attribute to its value in house 1, 2, ..., N. Use
    count_solutions first when the answer must be unique.
    """
    problem = _Problem(n_houses, attributes, clues)
    found: list[list[int]] = []
    problem.search(problem.start.copy(), 1, found)
    return problem.decode(found[0]) if found else None
