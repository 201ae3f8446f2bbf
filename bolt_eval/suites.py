"""Suites: named lists of tasks with their settings, kept as flat YAML in tasks/suites/.

Data paths in a suite are relative to the repository root. A suite file holds data only:
task names, data files, limits and sampling overrides, nothing that runs.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from bolt_eval.types import TASKS_DIR, UserError

SUITES_DIR = TASKS_DIR / "suites"


class SuiteTask(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    data: str | None = None
    limit: int | None = None
    options: dict[str, str | int | float | bool] = {}


class SuiteJudge(BaseModel):
    model_config = ConfigDict(extra="forbid")
    model: str
    backend: str | None = None
    max_new_tokens: int | None = None
    parse_retries: int | None = None


class Suite(BaseModel):
    model_config = ConfigDict(extra="forbid")
    description: str = ""
    sampling: dict[str, float | int | list[str]] = {}
    judge: SuiteJudge | None = None  # default: each task's official judge
    max_judge_failures: float | None = None
    tasks: list[SuiteTask]


def load_suite(name: str) -> Suite:
    path = SUITES_DIR / f"{name}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in SUITES_DIR.glob("*.yaml"))
        raise UserError(f"unknown suite {name!r}; known: {', '.join(known)} (files in {SUITES_DIR})")
    try:
        suite = Suite.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    except (yaml.YAMLError, ValidationError) as err:
        raise UserError(f"{path}: invalid suite: {err}") from err
    root = TASKS_DIR.parent
    for t in suite.tasks:
        if t.data and not Path(t.data).is_absolute():
            t.data = str(root / t.data)
        for key in ("baseline_answers", "lm_eval_include"):  # paths relative to the repository root
            if isinstance(t.options.get(key), str) and not Path(t.options[key]).is_absolute():
                t.options[key] = str(root / t.options[key])
    return suite
