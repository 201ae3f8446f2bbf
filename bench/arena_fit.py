"""Time of an Arena-Hard-SC fit with bootstrap: N checkpoints x 750 prompts x 2 games
against one baseline, verdicts and style features drawn at random (seeded).

    python bench/arena_fit.py [--checkpoints 1,10,50] [--rounds 100] [--prompts 750]
"""

from __future__ import annotations

import argparse
import random
import time

from tabulate import tabulate

from bolt_eval.style_control import Battle, battles_from_games, bootstrap, fit

LABELS = ("A>>B", "A>B", "A=B", "B>A", "B>>A")


def synthetic(checkpoints: int, prompts: int, seed: int = 0) -> list[Battle]:
    rng = random.Random(seed)
    style = lambda: {"tokens": rng.randint(50, 1500), "headers": rng.randint(0, 6),  # noqa: E731
                     "lists": rng.randint(0, 20), "bold": rng.randint(0, 10)}
    out = []
    for c in range(checkpoints):
        for p in range(prompts):
            out += battles_from_games(f"p{p}", f"ckpt{c}", rng.choice(LABELS), rng.choice(LABELS), style(), style())
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--checkpoints", default="1,10,50")
    ap.add_argument("--rounds", type=int, default=100)
    ap.add_argument("--prompts", type=int, default=750)
    args = ap.parse_args()
    rows = []
    for n in (int(x) for x in args.checkpoints.split(",")):
        battles = synthetic(n, args.prompts)
        t0 = time.perf_counter()
        fit(battles, "both")
        t1 = time.perf_counter()
        bootstrap(battles, "both", rounds=args.rounds)
        t2 = time.perf_counter()
        rows.append([n, len(battles), f"{t1 - t0:.2f}", f"{t2 - t1:.1f}", f"{t2 - t0:.1f}"])
        print(tabulate(rows, headers=["checkpoints", "battles", "fit s", f"bootstrap x{args.rounds} s", "total s"],
                       tablefmt="github"), flush=True)


if __name__ == "__main__":
    main()
