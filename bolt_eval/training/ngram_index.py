"""An index of benchmark items by their word n-grams, for decontamination (decontam.py).

Text is normalised (NFKC, lower case, words = runs of letters and digits, so whitespace,
case, punctuation and markup do not hide a copy; list numbers such as "3." dropped, so a
renumbered list reads alike) and cut into word n-grams, each turn on its own. A text
shorter than n words (but of at least 4) is one gram of its own length (a short MATH
problem, a short query): a short query matches an item turn equal to it, and a short item
is also looked for inside every longer query, so a short question wrapped in other words
is found.

Templated benchmarks repeat text across items: every generated ZebraLogic puzzle of N
houses opens with the same sentence, attribute lists and clue sentences ("The person who
likes apples is Omar.") recur in different puzzles. A gram held by at least max(3, 1%) of
one benchmark's items is that benchmark's boilerplate and is ignored on both sides: it says
nothing about which item a query holds. Two copies of one item (a duplicate inside a
benchmark) stay content, so a leak of a duplicated item is still caught.

The overlap of a query with an item is the larger of two shares of content grams: of the
query's grams found in the item, and of the item's grams found in the query. It is taken
in two views of both texts, as written and with their lines sorted, and the higher counts:
the same lines in another order (a puzzle with its clues shuffled and renumbered, a list
reordered) are a copy too. A copy scores 1 on one side; see decontam.py for the threshold
and what it was measured against.

Grams are 64-bit hashes (splitmix64 of each word id, combined with powers of an odd
constant) in sorted numpy arrays: a query costs one binary search per gram, not a
comparison with every item.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass
from typing import Callable

import numpy as np

from bolt_eval.types import UserError

SHORT_MIN_WORDS = 4
BOILERPLATE_MIN_ITEMS = 3
BOILERPLATE_SHARE = 0.01
_WORD = re.compile(r"[^\W_]+")
_MARKER = re.compile(r"(?<!\S)\d+[.)](?=\s|$)")
_P = np.uint64(0x9E3779B97F4A7C15)


def words(text: str) -> list[str]:
    """The normalised words of a text, list numbers ("3.") dropped."""
    return _WORD.findall(_MARKER.sub(" ", unicodedata.normalize("NFKC", text)).lower())


@dataclass(frozen=True)
class Item:
    benchmark: str
    id: str
    texts: tuple[str, ...]  # the item's own content: its turns (and recorded user turns)


@dataclass(frozen=True)
class Match:
    benchmark: str
    item: str
    overlap: float
    query_share: float
    item_share: float
    shared: int  # content grams in common
    view: str  # "as written" or "lines sorted"


def _mix(ids: np.ndarray) -> np.ndarray:
    """splitmix64 of each word id: well-spread 64-bit tokens."""
    with np.errstate(over="ignore"):
        z = ids.astype(np.uint64) + _P
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


class _Text:
    """Texts (an item's turns) as word tokens, with the text each token belongs to."""

    def __init__(self, ids: list[int], text: np.ndarray, text_len: np.ndarray, starts: np.ndarray) -> None:
        self.tokens = _mix(np.asarray(ids, dtype=np.int64))
        self.text, self.text_len, self.starts = text, text_len, starts

    def windows(self, size: int) -> tuple[np.ndarray, np.ndarray]:
        """Hashes of every window of `size` tokens inside one text, and where each starts."""
        if len(self.tokens) < size:
            return np.zeros(0, np.uint64), np.zeros(0, np.int64)
        powers = np.cumprod(np.full(size, _P, dtype=np.uint64), dtype=np.uint64)
        with np.errstate(over="ignore"):
            h = (np.lib.stride_tricks.sliding_window_view(self.tokens, size) * powers).sum(axis=1, dtype=np.uint64)
        inside = np.flatnonzero(self.text[: len(h)] == self.text[size - 1:])
        return h[inside], inside

    def own(self, n: int) -> np.ndarray:
        """Its grams: n-grams of long texts, and each short text (>= 4 words) whole."""
        found = []
        if (self.text_len >= n).any():
            found.append(self.windows(n)[0])
        for size in np.unique(self.text_len[(self.text_len < n) & (self.text_len >= SHORT_MIN_WORDS)]).tolist():
            h, at = self.windows(size)
            found.append(h[self.starts[at] & (self.text_len[at] == size)])
        return np.unique(np.concatenate(found)) if found else np.zeros(0, np.uint64)


def lines_sorted(text: str) -> str:
    """The text's normalised lines in sorted order: the same lines in any order read alike."""
    return "\n".join(sorted(" ".join(ws) for line in text.splitlines() if (ws := words(line))))


VIEWS: dict[str, Callable[[str], str]] = {"as written": lambda text: text, "lines sorted": lines_sorted}


class Index:
    """Items indexed twice: as written, and with their lines sorted (a puzzle whose clues
    were shuffled and renumbered is the same puzzle). A query's overlap is the higher of
    the two views'."""

    def __init__(self, items: list[Item], n: int) -> None:
        if n < 1:
            raise UserError(f"queries.decontaminate.n must be at least 1, got {n}")
        self.views = [_View(items, n, name, arrange) for name, arrange in VIEWS.items()]
        self.boilerplate = self.views[0].boilerplate
        self.unchecked = self.views[0].unchecked

    def best_match(self, text: str) -> Match | None:
        """The item this text overlaps most in either view (ties: as written, the earlier item), or None."""
        found = [m for view in self.views if (m := view.best_match(text)) is not None]
        return max(found, key=lambda m: m.overlap, default=None)


class _View:
    """Content grams of benchmark items in one view, hashed, with the items that hold each."""

    def __init__(self, items: list[Item], n: int, name: str, arrange: Callable[[str], str]) -> None:
        self.n = n
        self.items = items
        self.name = name
        self.arrange = arrange
        self.vocab: dict[str, int] = {}
        grams = [self._text(item.texts, grow=True).own(n) for item in items]
        owner = np.repeat(np.arange(len(items)), [len(g) for g in grams])
        hashes = np.concatenate(grams) if grams else np.zeros(0, np.uint64)
        self.boilerplate: dict[str, int] = {}
        keep = ~self._boilerplate(hashes, owner)
        order = np.argsort(hashes[keep], kind="stable")
        self.hashes, self.owner = hashes[keep][order], owner[keep][order]
        self.content = np.bincount(self.owner, minlength=len(items))  # content grams per item
        self.unchecked = int((self.content == 0).sum())  # items with no content gram (too short, all boilerplate)
        lengths = [len(words(self.arrange(t))) for item in items for t in item.texts]
        self.short_lengths = sorted({k for k in lengths if SHORT_MIN_WORDS <= k < n})

    def _text(self, texts: tuple[str, ...], grow: bool) -> _Text:
        per = [words(self.arrange(t)) for t in texts]
        flat = [w for ws in per for w in ws]
        if grow:
            ids = [self.vocab.setdefault(w, len(self.vocab)) for w in flat]
        else:
            unknown: dict[str, int] = {}  # a query's words no item has: ids no item gram uses, distinct per word
            ids = [self.vocab.get(w, -1 - unknown.setdefault(w, len(unknown))) for w in flat]
        lens = np.array([len(ws) for ws in per], dtype=np.int64)
        starts = np.zeros(len(flat), bool)
        starts[(np.cumsum(lens) - lens)[lens > 0]] = True
        return _Text(ids, np.repeat(np.arange(len(per)), lens), np.repeat(lens, lens), starts)

    def _boilerplate(self, hashes: np.ndarray, owner: np.ndarray) -> np.ndarray:
        """True where a gram is held by at least max(3, 1%) of its benchmark's items."""
        mask = np.zeros(len(hashes), bool)
        bench_of = np.array([i.benchmark for i in self.items], dtype=object)
        for b in sorted(set(bench_of.tolist())):
            floor = max(BOILERPLATE_MIN_ITEMS, math.ceil(BOILERPLATE_SHARE * int((bench_of == b).sum())))
            sel = np.flatnonzero(bench_of[owner] == b) if len(owner) else np.zeros(0, np.int64)
            _, inverse, counts = np.unique(hashes[sel], return_inverse=True, return_counts=True)
            mask[sel[counts[inverse] >= floor]] = True
            self.boilerplate[b] = int((counts >= floor).sum())
        return mask

    def best_match(self, text: str) -> Match | None:
        """The item this text overlaps most (ties: the earlier item), or None."""
        t = self._text((text,), grow=False)
        own = t.own(self.n)
        if not len(own):
            return None
        search = [own] + [t.windows(size)[0] for size in self.short_lengths]  # short items inside a longer query
        owners = self._owners_of(np.unique(np.concatenate(search)))
        if not len(owners):
            return None
        held, shared = np.unique(owners, return_counts=True)
        query_share = np.minimum(shared / len(own), 1.0)
        item_share = shared / np.maximum(self.content[held], 1)
        overlap = np.maximum(query_share, item_share)
        best = int(np.argmax(overlap))
        item = self.items[int(held[best])]
        return Match(item.benchmark, item.id, round(float(overlap[best]), 6), round(float(query_share[best]), 6),
                     round(float(item_share[best]), 6), int(shared[best]), self.name)

    def _owners_of(self, grams: np.ndarray) -> np.ndarray:
        """The items holding each gram (one entry per gram and item)."""
        lo = np.searchsorted(self.hashes, grams, side="left")
        hi = np.searchsorted(self.hashes, grams, side="right")
        hit = np.flatnonzero(hi > lo)
        if not len(hit):
            return np.zeros(0, np.int64)
        return np.concatenate([self.owner[lo[i]:hi[i]] for i in hit.tolist()])
