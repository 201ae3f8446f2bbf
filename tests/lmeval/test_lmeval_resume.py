"""A killed lm-eval run resumes without asking the model again for what it had answered:
each answer goes into lm-eval's request cache in the run folder as it comes (CachingLM,
`use_cache`), and the same command picks them up."""

from __future__ import annotations

import json
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from conftest import bolt, cli_env
from lm_tasks import write_tasks


def cached(db: Path) -> int:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as con:
            return con.execute("select count(*) from unnamed").fetchone()[0]
    except sqlite3.Error:
        return 0


# The CLI with a slow model (an injected fault): each answer takes 0.5 s more, so the kill
# lands between the first cached answer and the last (the tiny model alone answers all 4
# within one 50 ms poll, and the kill missed the window in 4 of 5 tries).
SLOW_CLI = """import sys, time
from lm_eval.models.huggingface import HFLM
generate = HFLM._model_generate
def slow(self, *args, **kwargs):
    out = generate(self, *args, **kwargs)
    time.sleep(0.5)
    return out
HFLM._model_generate = slow
from bolt_eval.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_killed_run_resumes_from_lm_evals_cache(tiny_llama, tmp_path):
    include, out = write_tasks(tmp_path / "tasks"), tmp_path / "r"
    args = ["run", "--model", str(tiny_llama), "--tasks", "lm-eval:toy_arith", "--lm-eval-include", str(include),
            "--out", str(out), "--device", "cpu", "--batch-size", "1", "--label", "t"]
    proc = subprocess.Popen([sys.executable, "-c", SLOW_CLI, *args], env=cli_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and proc.poll() is None:
        dbs = list(out.glob("t--lm-eval_toy_arith--*/lm_eval_cache_rank0.db"))
        if dbs and cached(dbs[0]) >= 1:
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.05)
    proc.wait()
    [folder] = out.glob("t--lm-eval_toy_arith--*")
    done = cached(folder / "lm_eval_cache_rank0.db")
    assert 1 <= done < 4 and not (folder / "summary.json").exists()  # killed part way
    again = bolt(*args, timeout=1800)
    assert again.returncode == 0, again.stderr[-3000:]
    asked = re.findall(r"Running generate_until requests: +100%\|[^|]*\| (\d+)/(\d+)", again.stderr)
    assert asked and int(asked[-1][1]) == 4 - done  # only what the killed run had not answered
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["n_samples"] == 4 and cached(folder / "lm_eval_cache_rank0.db") == 4
