"""The runner across several tasks in one call."""

import json
from pathlib import Path

from conftest import MATH_FIXTURE
from run_factory import MATH_ROWS, ZEBRA_ROWS, ZEBRA_SMOKE

from bolt_eval.backends.base import BackendSpec
from bolt_eval.runner import EvalConfig, TaskSpec, evaluate


def test_every_task_of_a_run_records_the_backend_provenance(tmp_path: Path) -> None:
    answers = tmp_path / "answers.jsonl"
    answers.write_text("".join(json.dumps({"id": r[k], "response": "no idea"}) + "\n"
                               for rows, k in ((MATH_ROWS[:2], "unique_id"), (ZEBRA_ROWS[:2], "id")) for r in rows))
    cfg = EvalConfig(tasks=[TaskSpec("math500", str(MATH_FIXTURE), 2), TaskSpec("zebralogic", str(ZEBRA_SMOKE), 2)],
                     backend=BackendSpec("replay", str(answers)), out=str(tmp_path / "r"), progress=False)
    results = evaluate(cfg)
    assert [r.manifest["provenance"]["backend"] for r in results] == ["replay", "replay"]
    assert results[1].manifest["provenance"] == results[0].manifest["provenance"]


def replay_with_spy(tmp_path: Path, monkeypatch) -> tuple[Path, list[str], list[list[tuple[str, int]]]]:
    """A replay answers file for MATH500's first 2 problems and the MT-Bench smoke questions
    (turn grades 4 + i and 6 + i), and the list each call to the replay backend appends
    its requests' (sample id, turn) to."""
    from run_factory import MT_SMOKE

    from bolt_eval.backends.replay import ReplayBackend

    mt_ids = [str(json.loads(line)["question_id"]) for line in MT_SMOKE.read_text().splitlines()]
    answers = tmp_path / "answers.jsonl"
    answers.write_text("".join(json.dumps(row) + "\n" for row in (
        [{"id": r["unique_id"], "response": "no idea"} for r in MATH_ROWS[:2]]
        + [{"id": q, "responses": [f"{q} one GRADE-{4 + i}", f"{q} two GRADE-{6 + i}"]} for i, q in enumerate(mt_ids)])))
    calls: list[list[tuple[str, int]]] = []
    generate = ReplayBackend.generate

    def spy(self, requests, progress=None):
        calls.append([(r.sample_id, r.turn) for r in requests])
        return generate(self, requests, progress)

    monkeypatch.setattr(ReplayBackend, "generate", spy)
    return answers, mt_ids, calls


def test_tasks_are_generated_in_shared_chunks_and_judged_in_one_pass(tmp_path: Path, monkeypatch) -> None:
    """A local engine batches across tasks: the first turns of every task go out in one
    generate call, and one judge pass serves every run; each run's manifest still counts
    the judge calls made for it, a judgment two runs share counted once."""
    from openai_server import LoopbackServer
    from run_factory import MT_SMOKE, grading_judge

    from bolt_eval.judging.judge import JudgeSpec

    answers, mt_ids, calls = replay_with_spy(tmp_path, monkeypatch)
    first_two = tmp_path / "mt-first-two.jsonl"  # another data file: another run, whose judgments run 1 also needs
    first_two.write_text("\n".join(MT_SMOKE.read_text().splitlines()[:2]) + "\n")
    with LoopbackServer(grading_judge) as server:
        judge = JudgeSpec(BackendSpec("openai", "judge-x", base_url=server.base_url, concurrency=4, max_retries=0,
                                      timeout_s=5.0), parse_retries=0)
        cfg = EvalConfig(tasks=[TaskSpec("math500", str(MATH_FIXTURE), 2), TaskSpec("mt_bench", str(MT_SMOKE)),
                                TaskSpec("mt_bench", str(first_two))],
                         backend=BackendSpec("replay", str(answers)), out=str(tmp_path / "r"), judge=judge,
                         progress=False)
        math, mt, mt_two = evaluate(cfg)
        assert len(server.requests) == 8  # 4 questions x 2 turns; run 3's 4 judgments are run 2's
    math_ids = [r["unique_id"] for r in MATH_ROWS[:2]]
    assert [sorted(c) for c in calls] == [sorted((i, 0) for i in math_ids + mt_ids + mt_ids[:2]),
                                          sorted((q, 1) for q in mt_ids + mt_ids[:2])]
    assert [i for i, _ in calls[0] if i in math_ids] == math_ids  # each run's samples in data order
    assert [r.manifest["runtime"]["judge_calls"] for r in (math, mt, mt_two)] == [0, 8, 0]
    assert mt.summary["coverage"]["judged"] == 8 and mt_two.summary["coverage"]["judged"] == 4
    assert mt_two.summary["headline"]["mean"] == 5.5  # grades 4, 6 and 5, 7


def test_a_chunks_second_turns_go_out_with_the_next_chunks_first_turns(tmp_path: Path, monkeypatch) -> None:
    """Three samples a chunk: each call to the backend carries the next chunk's first turns
    and the second turns of the chunk before, and every sample's record is the one a single
    chunk gives."""
    from openai_server import LoopbackServer
    from run_factory import MT_SMOKE, grading_judge

    from bolt_eval.judging.judge import JudgeSpec

    answers, mt_ids, calls = replay_with_spy(tmp_path, monkeypatch)
    records = {}
    with LoopbackServer(grading_judge) as server:
        judge = JudgeSpec(BackendSpec("openai", "judge-x", base_url=server.base_url, concurrency=4, max_retries=0,
                                      timeout_s=5.0), parse_retries=0)
        for chunk in (3, None):
            calls.clear()
            cfg = EvalConfig(tasks=[TaskSpec("math500", str(MATH_FIXTURE), 2), TaskSpec("mt_bench", str(MT_SMOKE))],
                             backend=BackendSpec("replay", str(answers)), out=str(tmp_path / f"r{chunk}"),
                             judge=judge, progress=False, chunk=chunk)
            records[chunk] = [r.dir.joinpath("samples.jsonl").read_text() for r in evaluate(cfg)]
            if chunk:
                chunked = list(calls)
    firsts = [i for call in chunked for i, turn in call if turn == 0]
    chunks = [firsts[:3], firsts[3:]]
    assert len(firsts) == 6 and [len(c) for c in chunked] == [3, 3 + sum(i in mt_ids for i in chunks[0]),
                                                             sum(i in mt_ids for i in chunks[1])]
    for k, call in enumerate(chunked):
        assert [i for i, turn in call if turn == 0] == (chunks[k] if k < 2 else [])
        assert sorted(i for i, turn in call if turn == 1) == sorted(i for i in (chunks[k - 1] if k else []) if i in mt_ids)
    assert records[3] == records[None]
