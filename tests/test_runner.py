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
