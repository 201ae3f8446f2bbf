"""Real run folders with known scores for the compare, gate and plot tests: every run is
made by `evaluate()` with the replay backend (answers chosen to be right or wrong), and
MT-Bench is judged by a scripted judge over a loopback HTTP server, so the numbers in
the folders are the harness's own, and the expected values are known by construction."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from conftest import MATH_FIXTURE, ROOT
from openai_server import LoopbackServer

from bolt_eval.backends.base import BackendSpec
from bolt_eval.judging.judge import JudgeSpec
from bolt_eval.runner import EvalConfig, RunResult, TaskSpec, evaluate
from bolt_eval.types import SamplingParams

ZEBRA_SMOKE = ROOT / "tasks" / "zebralogic" / "smoke.jsonl"
MT_SMOKE = ROOT / "tasks" / "mt_bench" / "smoke.jsonl"
MATH_ROWS = [json.loads(line) for line in MATH_FIXTURE.read_text().splitlines()]
ZEBRA_ROWS = [json.loads(line) for line in ZEBRA_SMOKE.read_text().splitlines()]
MT_IDS = [json.loads(line)["question_id"] for line in MT_SMOKE.read_text().splitlines()]


def _write(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _run(root: Path, label: str, task: str, data: Path, answers: Path, limit: int | None = None,
         judge: JudgeSpec | None = None, max_new_tokens: int = 512, **kw: Any) -> RunResult:
    cfg = EvalConfig(tasks=[TaskSpec(task, str(data), limit)], backend=BackendSpec("replay", str(answers)),
                     sampling=SamplingParams(max_new_tokens=max_new_tokens), out=str(root), label=label,
                     progress=False, judge=judge, **kw)
    [result] = evaluate(cfg)
    return result


def math_run(root: Path, label: str, right: set[int], n: int = 6, **kw: Any) -> RunResult:
    """MATH500 on the first `n` fixture problems; problem i is right iff i in `right`."""
    rows = MATH_ROWS[:n]
    answers = _write(root.parent / f"{label}-math.jsonl", [
        {"id": r["unique_id"], "response": f"So \\boxed{{{r['answer'] if i in right else '999'}}}"}
        for i, r in enumerate(rows)])
    return _run(root, label, "math500", MATH_FIXTURE, answers, limit=n, **kw)


def zebra_run(root: Path, label: str, wrong_cells: dict[int, int], **kw: Any) -> RunResult:
    """ZebraLogic smoke (8 puzzles); puzzle i gets `wrong_cells[i]` cells wrong (default 0)."""
    out = []
    for i, row in enumerate(ZEBRA_ROWS):
        header, body = row["solution"]["header"], row["solution"]["rows"]
        todo = wrong_cells.get(i, 0)
        houses = {}
        for h, cells in enumerate(body, start=1):
            house = {}
            for name, value in zip(header[1:], cells[1:]):
                house[name] = "WRONG" if todo > 0 else value
                todo -= 1
            houses[f"House {h}"] = house
        out.append({"id": row["id"], "response": json.dumps({"reasoning": "...", "solution": houses})})
    return _run(root, label, "zebralogic", ZEBRA_SMOKE, _write(root.parent / f"{label}-zebra.jsonl", out), **kw)


def zebra_cells() -> list[int]:
    """Cells per smoke puzzle, in file order."""
    return [len(r["solution"]["rows"]) * (len(r["solution"]["header"]) - 1) for r in ZEBRA_ROWS]


def grading_judge(body: dict[str, Any]) -> str:
    """Grades the answer it is shown by the GRADE-g marker the replayed answer carries;
    GRADE-0 gets a reply without a verdict (a parse failure)."""
    grade = re.findall(r"GRADE-(\d+)", body["messages"][-1]["content"])[-1]
    return "I cannot decide." if grade == "0" else f"Fine. Rating: [[{grade}]]"


def mt_run(root: Path, label: str, grades: dict[str, tuple[int, int]], server: LoopbackServer,
           judge_model: str = "judge-x", **kw: Any) -> RunResult:
    """MT-Bench smoke (4 questions): question q's two turns get grades[q] (0: no verdict)."""
    answers = _write(root.parent / f"{label}-mt.jsonl", [
        {"id": q, "responses": [f"answer {q} one GRADE-{grades[q][0]}", f"answer {q} two GRADE-{grades[q][1]}"]}
        for q in MT_IDS])
    judge = JudgeSpec(BackendSpec("openai", judge_model, base_url=server.base_url, concurrency=4, max_retries=0,
                                  timeout_s=5.0), parse_retries=0)
    return _run(root, label, "mt_bench", MT_SMOKE, answers, judge=judge, max_judge_failures=1.0, **kw)


def smoke_command(out: Path) -> list[str]:
    """The evaluation behind results/baselines/smoke/ (see its README.md) and CI's gate: the
    default model on the whole smoke suite, judging itself, three items of each task (fewer
    where the suite has fewer) with 64-token answers and judge replies, to spare CI's two
    cores. CI repeats it and gates against the baseline."""
    return ["run", "--model", "default", "--suite", "smoke", "--limit", "3", "--max-new-tokens", "64",
            "--judge-max-new-tokens", "64", "--label", "default", "--no-progress", "--out", str(out)]
