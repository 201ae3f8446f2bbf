"""Grading queries on the seven BenchBuilder criteria, plus a topic, by an LLM judge.

The criteria are Arena-Hard's (Li et al. 2024, arXiv 2406.11939; BenchBuilder in
lmarena/arena-hard-auto): specificity, domain knowledge, complexity, problem-solving,
creativity, technical accuracy, real-world application, each satisfied or not, the judge
listing the numbers satisfied as a Python-style list, as BenchBuilder's prompt asks.
The BOLT paper keeps queries meeting at least 5 (Pang et al. 2025, 3.1). The template is
the project's own wording (training/templates/benchbuilder-criteria.txt) and adds a topic
line, from which the recipe's topic mix is drawn.

Every call goes through the harness's judge engine and ledger (`<output_dir>/
judgments.sqlite`): re-runs pay nothing, a reply without a verdict is asked again, and what
still fails is returned as a failure, never as "0 criteria" (BenchBuilder's own parser
reads a reply without a list as an empty list; here that is a parse error).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from bolt_eval.judging.parsers import PARSERS, Parser
from bolt_eval.judging.templates import Template
from bolt_eval.training.recipe import REPO_ROOT
from bolt_eval.types import UserError

TEMPLATE_PATH = REPO_ROOT / "training" / "templates" / "benchbuilder-criteria.txt"
CRITERIA = ("specificity", "domain_knowledge", "complexity", "problem_solving", "creativity",
            "technical_accuracy", "real_world")
DEFAULT_TOPICS = ("math", "coding", "reasoning", "science", "writing", "advice", "knowledge", "other")

_LIST = re.compile(r"\[\s*((?:[1-7]\s*,\s*)*[1-7])?\s*\]")
_TOPIC = re.compile(r"^[\s*#]*topic[\s*]*:(.*)$", re.I | re.M)


def parse_criteria(reply: str) -> dict[str, Any] | None:
    """{"criteria": [numbers 1-7], "topic": "..."} or None. Every criteria list in the reply
    must agree (as BenchBuilder's get_score), and a topic line must be there."""
    lists = {tuple(sorted({int(x) for x in re.findall(r"[1-7]", m.group(1) or "")})) for m in _LIST.finditer(reply)}
    topics = [re.sub(r"[^a-z0-9 _/&-]", "", t.strip().lower()).strip() for t in _TOPIC.findall(reply)]
    topics = [t for t in topics if t]
    if len(lists) != 1 or not topics:
        return None
    return {"criteria": list(lists.pop()), "topic": topics[-1]}


PARSERS.setdefault("benchbuilder", Parser("benchbuilder", "1", parse_criteria))


def load_template() -> Template:
    try:
        text = TEMPLATE_PATH.read_text(encoding="utf-8")
    except OSError as err:
        raise UserError(f"{TEMPLATE_PATH}: cannot read the criteria template ({err.strerror}); restore it from git") from err
    return Template("benchbuilder-criteria", None, text, "benchbuilder",
                    f"project:{TEMPLATE_PATH.relative_to(REPO_ROOT)}")


def topic_menu(mix: dict[str, float]) -> list[str]:
    """The topics the judge chooses from: the recipe's mix (plus "other"), else the defaults."""
    if not mix:
        return list(DEFAULT_TOPICS)
    return list(mix) + ([] if "other" in mix else ["other"])


@dataclass(frozen=True)
class Grade:
    status: str  # "ok" or the judge's failure (parse_error, api_error, refused, truncated, pending)
    criteria: tuple[int, ...] = ()
    topic: str | None = None
    unlisted_topic: str | None = None  # the judge's topic when not on the menu (then topic is "other")
    key: str = ""


def grade(queries: list[Any], judge: Any, menu: list[str], progress: bool) -> tuple[list[Grade], dict[str, Any]]:
    """One Grade per query, in order, and the judge's cost for them (tokens over all attempts)."""
    from bolt_eval.progress import progress_bar
    from bolt_eval.registry import backends

    template = load_template()
    prompts = [template.render(prompt=q.prompt, topics=", ".join(menu)) for q in queries]
    if judge.pending(prompts):
        backends.get(judge.spec.backend.backend).preflight(judge.spec.backend)
    bar = progress_bar(len(prompts), "criteria judge", progress, "query")
    entries = judge.run(prompts, bar.update)
    bar.close()
    grades = []
    for e in entries:
        if e.status != "ok":
            grades.append(Grade(e.status, key=e.key))
            continue
        topic = e.verdict["topic"]
        listed = topic in menu
        grades.append(Grade("ok", tuple(e.verdict["criteria"]), topic if listed else "other",
                            None if listed else topic, e.key))
    paid = {e.key: e for e in entries}.values()
    prompt_tokens, completion_tokens = sum(e.prompt_tokens for e in paid), sum(e.completion_tokens for e in paid)
    cost = {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
            "calls": sum(e.attempts for e in paid), "calls_this_run": judge.calls,
            "usd": judge.meter.usd(prompt_tokens, completion_tokens), "template": template.id}
    return grades, cost
