"""Published numbers to show beside the user's rows (`--reference NAME`), read from
`results/reference/NAME.yaml`. Every row keeps its source (paper, table) and is always
marked as a reference in tables and plots: it was not produced by this harness.

File format (flat YAML, values in the units tables show: percent for rates, raw for
scores such as MT-Bench 1-10):

    source: {title: ..., authors: ..., year: 2025, arxiv: "2502.03860", url: ...}
    note: what the file holds and what it does not
    rows:
      - label: MODEL (as the source names it)
        table: Table N
        values: {TASK: NUMBER, ...}       # e.g. arena_hard, wildbench, mt_bench
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from bolt_eval.types import TASKS_DIR, UserError

REFERENCE_DIR = TASKS_DIR.parent / "results" / "reference"


class Source(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str
    authors: str
    year: int
    arxiv: str | None = None
    url: str


class ReferenceRow(BaseModel):
    model_config = ConfigDict(extra="forbid")
    label: str
    table: str  # where in the source, e.g. "Table 1"
    values: dict[str, float]  # task -> headline in display units


class Reference(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = ""
    source: Source
    note: str = ""
    rows: list[ReferenceRow] = []

    def cite(self) -> str:
        arxiv = f", arXiv {self.source.arxiv}" if self.source.arxiv else ""
        return f"{self.source.authors} ({self.source.year}), \"{self.source.title}\"{arxiv}, {self.source.url}"


def load_reference(name: str, folder: Path = REFERENCE_DIR) -> Reference:
    """results/reference/NAME.yaml, validated; errors name the file and the field."""
    path = folder / f"{name}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in folder.glob("*.yaml")) if folder.is_dir() else []
        raise UserError(f"unknown reference {name!r}; known: {', '.join(known) or 'none'} (files in {folder})")
    try:
        ref = Reference.model_validate({**(yaml.safe_load(path.read_text(encoding="utf-8")) or {}), "name": name})
    except yaml.YAMLError as err:
        raise UserError(f"{path}: not valid YAML ({err})") from err
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise UserError(f"{path}: field {where!r}: {first['msg']}; see the format in bolt_eval/comparing/reference.py") from err
    return ref
