"""Reading a recipe file: YAML, `--set k.s=v` overrides (recorded in every manifest), and
validation errors that name the file, line, key and fix (the models are recipe.py)."""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from bolt_eval.training.recipe import Recipe, resolve_path
from bolt_eval.types import UserError


def read_yaml(path: Path) -> tuple[str, Any]:
    """A YAML file's text (for line numbers in errors) and its data; bad YAML names the file."""
    text = path.read_text(encoding="utf-8")
    try:
        return text, yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise UserError(f"{path}: not valid YAML: {err}") from err


def load_recipe(path: str | Path, overrides: list[str] | None = None) -> Recipe:
    path = resolve_path(str(path))
    if not path.is_file():
        raise UserError(f"{path}: no such recipe; see training/recipes/ for examples")
    text, data = read_yaml(path)
    if not isinstance(data, dict):
        raise UserError(f"{path}: a recipe is a mapping of keys (name, output_dir, model, ...)")
    for item in overrides or []:
        _apply_override(data, item)
    try:
        recipe = Recipe.model_validate(data)
    except ValidationError as err:
        raise UserError(_explain(err, path, text)) from err
    recipe.source, recipe.overrides = str(path), list(overrides or [])
    return recipe


def _apply_override(data: dict[str, Any], item: str) -> None:
    key, sep, value = item.partition("=")
    if not sep or not key:
        raise UserError(f"--set {item}: write KEY=VALUE, e.g. --set sft.learning_rate=1e-5")
    node = data
    parts = key.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise UserError(f"--set {item}: '{part}' is not a section")
    node[parts[-1]] = yaml.safe_load(value)


def _explain(err: ValidationError, path: Path, text: str) -> str:
    lines = [f"{path}: invalid recipe:"]
    for e in err.errors():
        loc = [str(x) for x in e["loc"]]
        where = f"line {line_of(text, loc)}, " if line_of(text, loc) else ""
        key = ".".join(loc)
        if e["type"] == "extra_forbidden":
            model = _model_at(loc[:-1])
            close = difflib.get_close_matches(loc[-1], list(model.model_fields) if model else [], n=1)
            hint = f"; did you mean '{close[0]}'?" if close else (
                f"; known keys: {', '.join(model.model_fields)}" if model else "")
            lines.append(f"  {where}key '{key}': unknown key{hint}")
        elif e["type"] == "missing":
            lines.append(f"  key '{key}': required, missing; add it")
        else:
            lines.append(f"  {where}key '{key}': {e['msg']} (got {e.get('input')!r})")
    return "\n".join(lines)


def _model_at(loc: list[str]) -> type[BaseModel] | None:
    model: Any = Recipe
    for part in loc:
        if part.isdigit():
            continue
        field = model.model_fields.get(part) if isinstance(model, type) and issubclass(model, BaseModel) else None
        if field is None:
            return None
        model = _inner_model(field.annotation)
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def _inner_model(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _inner_model(arg)
        if found is not None:
            return found
    return None


def line_of(text: str, loc: list[str]) -> int | None:
    """The 1-based line of a key path in the YAML text (the nearest existing ancestor)."""
    try:
        node = yaml.compose(text)
    except yaml.YAMLError:
        return None
    line = None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            match = next(((k, v) for k, v in node.value if k.value == part), None)
            if match is None:
                return line
            line, node = match[0].start_mark.line + 1, match[1]
        elif isinstance(node, yaml.SequenceNode) and part.isdigit() and int(part) < len(node.value):
            node = node.value[int(part)]
            line = node.start_mark.line + 1
        else:
            return line
    return line
