"""Peak resident memory of `nox -s eval` (what it runs: `bolt-eval run --model default
--suite smoke`), relative to a bare process that only loads the same model and generates.

Each command runs as a child process; its peak is the `ru_maxrss` that `os.wait4` reports
for it (its largest process, descendants included). The full smoke suite takes 7 minutes or
more on 2 cores, too long for the bench's 15-minute budget, so it runs on one item per task
with 32-token answers and verdicts: the same process, every task, the default model as
candidate and then as judge. Memory is set by the loaded model; one sequence of 400 tokens
holds ~20 MB of KV cache, so the full suite's batches (12 prompts) would add a few hundred MB.
Both run with one torch thread (OMP_NUM_THREADS=1), as generation_hf does, so that time on
shared cores stays bounded; threads do not change the peak.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from typing import Any

TITLE = "7. Peak resident memory of `nox -s eval` (the smoke suite), vs a bare model load + generate"
ORDER = 7
BARE = """
from bolt_eval.backends.base import BackendSpec
from bolt_eval.backends.hf import load_model
model, tok, _ = load_model(BackendSpec("hf", "default"))
enc = tok.apply_chat_template([{"role": "user", "content": "Name three colours."}], add_generation_prompt=True,
                              return_tensors="pt", return_dict=True)
model.generate(**enc, max_new_tokens=16, do_sample=False, temperature=None, top_p=None, top_k=None)
"""


def measure(cmd: list[str]) -> tuple[float, float]:
    """(wall s, peak RSS MiB) of a child process with one torch thread."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, env={**os.environ, "OMP_NUM_THREADS": "1"})
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}")
    return time.perf_counter() - t0, usage.ru_maxrss / 1024


def run(quick: bool) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as out:
        if quick:
            what = ["--tasks", "math500", "--data", "tasks/math500/fixture.jsonl", "--limit", "1", "--max-new-tokens", "8"]
        else:
            what = ["--suite", "smoke", "--limit", "1", "--max-new-tokens", "32", "--judge-max-new-tokens", "32"]
        args = ["run", "--model", "default", *what, "--out", out, "--no-progress"]
        eval_wall, eval_rss = measure([sys.executable, "-m", "bolt_eval.cli", *args])
    bare_wall, bare_rss = measure([sys.executable, "-c", BARE])
    rows = [{"process": "bolt-eval " + " ".join(a for a in args if a not in ("--out", out)), "wall_s": eval_wall,
             "peak_RSS_MiB": eval_rss, "vs_bare": eval_rss / bare_rss},
            {"process": "bare: load the default model, generate 16 tokens", "wall_s": bare_wall,
             "peak_RSS_MiB": bare_rss, "vs_bare": 1.0}]
    notes = ["vs bare: peak RSS over the bare process's; the difference is what the harness adds to one model in "
             "memory (imports, data, scoring; the judge is the candidate's own model, loaded once)"]
    return {"rows": rows, "notes": notes}
