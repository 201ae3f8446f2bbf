"""Side-by-side timing shared by the generation cases: each approach runs `repeats` times,
interleaved (so drifting load hits all alike), and returns the tokens it generated."""

from __future__ import annotations

import statistics
import time
from typing import Callable


def interleaved(approaches: dict[str, Callable[[], int]], repeats: int) -> tuple[dict[str, float], dict[str, int]]:
    """({approach: median wall seconds}, {approach: tokens of its last repeat})."""
    walls: dict[str, list[float]] = {k: [] for k in approaches}
    tokens: dict[str, int] = {}
    for _ in range(repeats):
        for name, fn in approaches.items():
            t0 = time.perf_counter()
            tokens[name] = fn()
            walls[name].append(time.perf_counter() - t0)
    return {k: statistics.median(v) for k, v in walls.items()}, tokens
