"""A scripted candidate and judge for the fixtures of the judged benchmarks (and MATH500),
both served by one loopback server, for the reliability tests.

Every reply is a function of the request's messages alone (never of the seed, the
temperature, timing or order), so a run that met faults, kills or a concurrent run, once
finished, must hold exactly the answers, verdicts and summary bytes of an undisturbed run.
The judge answers in the format its template asks for (MT-Bench rating, Arena-Hard label,
WildBench score or choice), with a verdict drawn from a hash of the prompt.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from conftest import MATH_FIXTURE, ROOT

from bolt_eval.backends.base import BackendSpec
from bolt_eval.judging.judge import JudgeSpec
from bolt_eval.judging.parsers import ARENA_LABELS, WB_CHOICES
from bolt_eval.runner import EvalConfig, TaskSpec

CANDIDATE, JUDGE = "cand-x", "judge-x"
ARENA_BASELINE = ROOT / "tasks" / "arena_hard" / "smoke_baseline.jsonl"
ARENA_OPTIONS = {"baseline_answers": str(ARENA_BASELINE), "style_tokenizer": "words", "bootstrap_rounds": 20}
DATA = {
    "mt_bench": ROOT / "tasks" / "mt_bench" / "smoke.jsonl",
    "arena_hard": ROOT / "tasks" / "arena_hard" / "smoke.jsonl",
    "wildbench": ROOT / "tasks" / "wildbench" / "fixture.jsonl",
    "math500": MATH_FIXTURE,
}


def _digest(body: dict[str, Any]) -> int:
    return int(hashlib.sha256(json.dumps(body["messages"], sort_keys=True).encode()).hexdigest()[:12], 16)


def reply(body: dict[str, Any]) -> str:
    h = _digest(body)
    if body["model"] != JUDGE:
        return f"Answer {h:012x}: the steps, then \\boxed{{{h % 3}}}."
    text = "\n".join(m["content"] for m in body["messages"])
    if "[[A>>B]]" in text:
        return f"My final verdict is: [[{ARENA_LABELS[h % 5]}]]"
    if '"choice"' in text:
        return json.dumps({"analysis of A": "a", "analysis of B": "b", "choice": WB_CHOICES[h % 5]})
    if '"score"' in text:
        return json.dumps({"strengths": "s", "weaknesses": "w", "score": str(1 + h % 10)})
    return f"A fair answer. Rating: [[{1 + h % 10}]]"


def eval_config(root: Path, base_url: str, tasks: list[str], retries: int = 0, timeout_s: float = 10.0,
                parse_retries: int = 2, concurrency: int = 8) -> EvalConfig:
    """Candidate and judge on `base_url`; judge failures do not fail the run (they are counted)."""
    def spec(model: str) -> BackendSpec:
        return BackendSpec("openai", model, base_url=base_url, concurrency=concurrency, max_retries=retries,
                           timeout_s=timeout_s)

    specs = [TaskSpec(t, str(DATA[t]), options=ARENA_OPTIONS if t == "arena_hard" else {}) for t in tasks]
    return EvalConfig(tasks=specs, backend=spec(CANDIDATE), out=str(root), progress=False,
                      judge=JudgeSpec(spec(JUDGE), parse_retries=parse_retries), max_judge_failures=1.0)


def cli_args(root: Path, base_url: str, tasks: list[str], limit: int, concurrency: int = 2) -> list[str]:
    """The same evaluation as `bolt-eval run` arguments (first `limit` samples of each task)."""
    return ["run", "--backend", "openai", "--model", CANDIDATE, "--base-url", base_url, "--tasks", ",".join(tasks),
            *[a for t in tasks for a in ("--data", f"{t}={DATA[t]}")], "--limit", str(limit),
            *(["--baseline-answers", str(ARENA_BASELINE), "--style-tokenizer", "words", "--bootstrap-rounds", "20"]
              if "arena_hard" in tasks else []),
            "--judge-model", JUDGE, "--judge-base-url", base_url, "--concurrency", str(concurrency),
            "--judge-concurrency", str(concurrency), "--max-judge-failures", "1", "--out", str(root), "--no-progress"]


def summaries(root: Path) -> dict[str, bytes]:
    """summary.json bytes of every run under `root`, by run folder name."""
    return {p.parent.name: p.read_bytes() for p in sorted(root.glob("*/summary.json"))}
