"""WildBench judge templates: the official v2 prompts, fetched at run time, else the project's.

Official: evaluation/eval_template.score.v2.md (WB-Score) and eval_template.pairwise.v2.md
(WB-Reward) of github.com/allenai/WildBench at a pinned commit, downloaded once into the
cache. Their slots are `{$history}`, `{$user_query}`, `{$model_output}` / `{$candidate_A}`,
`{$candidate_B}` and `{$checklist}`, filled by plain replacement in src/eval.py; here they are
turned into `{slot}` fields (other braces escaped) so `Template.render` fills them. Without
the files (no network, no cache), the project's own templates in
tasks/wildbench/judge_templates.yaml: same slots, same JSON verdicts. The manifest records
which (`Template.source`).
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from bolt_eval.judging.templates import Template, load_project_templates
from bolt_eval.downloads import cached
from bolt_eval.types import TASKS_DIR, UserError

COMMIT = "0c9a7520288045b8ef5e65fd4a4c391bd6f6fe9a"
PUBLISHED = f"https://raw.githubusercontent.com/allenai/WildBench/{COMMIT}/evaluation"
FILES = {"score": "eval_template.score.v2.md", "pairwise": "eval_template.pairwise.v2.md"}
PARSER = {"score": "wb_score", "pairwise": "wb_choice"}
SLOTS = {"score": ("history", "user_query", "model_output", "checklist"),
         "pairwise": ("history", "user_query", "candidate_A", "candidate_B", "checklist")}
PROJECT_TEMPLATES = TASKS_DIR / "wildbench" / "judge_templates.yaml"


def _fetch(name: str) -> Path | None:
    """The official file from the cache, downloaded there first if need be; None if unreachable."""
    return cached(f"{PUBLISHED}/{name}", "wildbench", COMMIT, name, timeout=15)


def from_official(kind: str, text: str, source: str) -> Template:
    """An official template's text as a Template: `{$slot}` -> `{slot}`, other braces literal."""
    body = text.replace("{", "{{").replace("}", "}}")
    body = re.sub(r"\{\{\$(\w+)\}\}", r"{\1}", body)
    found = set(re.findall(r"(?<!\{)\{(\w+)\}(?!\})", body))
    if found != set(SLOTS[kind]):
        raise UserError(f"{source}: expected the slots {sorted(SLOTS[kind])}, found {sorted(found)}; "
                        "delete the cached file to fetch it again")
    return Template(kind, None, body, PARSER[kind], source)


def load() -> dict[str, Template]:
    """{"score": ..., "pairwise": ...}: official when both files are at hand, else the project's."""
    paths = {kind: _fetch(name) for kind, name in FILES.items()}
    if all(paths.values()):
        return {kind: from_official(kind, p.read_text(encoding="utf-8"), f"url:{PUBLISHED}/{FILES[kind]}")
                for kind, p in paths.items() if p}
    own = load_project_templates(PROJECT_TEMPLATES, parser="wb_score")
    if set(own) != set(FILES):
        raise UserError(f"{PROJECT_TEMPLATES}: needs exactly the templates {sorted(FILES)}; restore it from git")
    return {kind: dataclasses.replace(own[kind], parser=PARSER[kind]) for kind in FILES}
