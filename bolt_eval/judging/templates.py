"""Judge prompt templates: a system message and a user message with `{field}` slots.

Official templates are loaded at run time from their published files; the project's own
fallbacks live under tasks/<benchmark>/. A template's id carries its hash, so the ledger
and the manifest say exactly which text a verdict came from.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import yaml

from bolt_eval.judging.judge import JudgePrompt
from bolt_eval.types import Message, UserError


@dataclass(frozen=True)
class Template:
    name: str
    system: str | None
    user: str
    parser: str
    source: str  # where the text came from: a package file, or the project's own file

    @property
    def sha256(self) -> str:
        return hashlib.sha256(f"{self.system}\x00{self.user}".encode()).hexdigest()

    @property
    def id(self) -> str:
        return f"{self.name}@{self.sha256[:12]}"

    def render(self, **fields: str) -> JudgePrompt:
        msgs: list[Message] = [{"role": "system", "content": self.system}] if self.system else []
        msgs.append({"role": "user", "content": self.user.format(**fields)})
        return JudgePrompt(self.id, tuple(msgs), self.parser)


def load_project_templates(path: Path, parser: str) -> dict[str, Template]:
    """The project's own templates: a YAML map name -> {system, user}."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        return {name: Template(name, t.get("system"), t["user"], parser, f"project:{path.name}")
                for name, t in raw.items()}
    except (OSError, yaml.YAMLError, KeyError, AttributeError) as err:
        raise UserError(f"{path}: unreadable judge templates ({err}); restore it from git") from err
