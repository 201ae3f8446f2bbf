"""The CLI as a user runs it: a real subprocess, real files, real exit codes."""

import json
import subprocess
import sys
import time

import pytest
from conftest import MATH_FIXTURE, bolt, cli_env


def test_help_is_instant_and_imports_no_torch():
    code = "import sys; from bolt_eval.cli import main\ntry: main(['--help'])\nexcept SystemExit: pass\n" \
           "print(sorted(m for m in ('torch', 'transformers', 'datasets') if m in sys.modules))"
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=cli_env())
    assert out.stdout.strip().endswith("[]") and time.perf_counter() - t0 < 5


def answers(tmp_path, right):
    """Replay file: the reference answer for ids in `right`, a wrong one otherwise."""
    rows = [json.loads(line) for line in MATH_FIXTURE.read_text().splitlines()][:6]
    path = tmp_path / "answers.jsonl"
    path.write_text("".join(json.dumps({"id": r["unique_id"], "response":
                                        f"So \\boxed{{{r['answer'] if i in right else '999'}}}"}) + "\n"
                            for i, r in enumerate(rows)))
    return path


def test_replay_run_scores_exactly_and_prints_table(tmp_path):
    path = answers(tmp_path, right={0, 2, 3})
    out = bolt("run", "--backend", "replay", "--model", str(path), "--tasks", "math500", "--data",
               str(MATH_FIXTURE), "--limit", "6", "--out", str(tmp_path / "res"), "--label", "recorded")
    assert out.returncode == 0, out.stderr
    assert "| recorded | math500 | accuracy (%) | 50.0    | [16.7, 83.3] | 6   | -        | -       |" in out.stdout
    (run,) = (tmp_path / "res").iterdir()
    summary = json.loads((run / "summary.json").read_text())
    assert summary["metrics"]["accuracy"]["mean"] == 0.5
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["config"]["backend"]["backend"] == "replay"


def test_missing_replay_answers_fail_then_resume(tmp_path):
    path = answers(tmp_path, right={0, 1, 2, 3, 4, 5})
    full = path.read_text()
    path.write_text("".join(full.splitlines(keepends=True)[:4]))
    args = ["run", "--backend", "replay", "--model", str(path), "--tasks", "math500", "--data",
            str(MATH_FIXTURE), "--limit", "6", "--out", str(tmp_path / "res")]
    out = bolt(*args)
    assert out.returncode == 2
    assert "math500: 2 of 6 samples failed, first: test/" in out.stderr
    assert "no recorded answer for id" in out.stderr and "re-run the same command" in out.stderr
    (run,) = (tmp_path / "res").iterdir()
    assert len((run / "samples.jsonl").read_text().splitlines()) == 4 and not (run / "summary.json").exists()
    # the replay file is part of the configuration, so the completed file is a new run
    path.write_text(full)
    assert bolt(*args).returncode == 0


@pytest.mark.parametrize("args, message", [
    (["--tasks", "math50"], "unknown task 'math50'. Did you mean 'math500'?"),
    (["--tasks", "math500", "--backend", "hff"], "unknown backend 'hff'. Did you mean 'hf'?"),
    (["--tasks", "math500", "--model", "./missing-ckpt", "--data", str(MATH_FIXTURE)],
     "--model ./missing-ckpt: no such file or folder"),
    (["--tasks", "math500", "--data", "nope.jsonl"], "nope.jsonl: no such file"),
    (["--suite", "smoek"], "unknown suite 'smoek'"),
    (["--tasks", "math500", "--suite", "smoke"], "give exactly one of --tasks"),
    (["--tasks", "math500", "--thoughts", "xml"], "unknown --thoughts preset 'xml'"),
])
def test_configuration_errors_exit_2_and_write_nothing(tmp_path, args, message):
    base = ["run", "--out", str(tmp_path / "res")] + (["--model", "default"] if "--model" not in args else [])
    out = bolt(*base, *args)
    assert out.returncode == 2 and message in out.stderr and "Traceback" not in out.stderr
    assert not (tmp_path / "res").exists()
