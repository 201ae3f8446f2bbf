"""Reading user JSONL files with errors that name the file, the line and the field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

from bolt_eval.types import UserError


def read_jsonl(path: str | Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """Yield (place, row) for each non-blank line; place reads "FILE line N"."""
    p = Path(path)
    if not p.is_file():
        raise UserError(f"{p}: no such file")
    try:
        text = p.read_bytes().decode("utf-8")
    except UnicodeDecodeError as err:
        line = p.read_bytes()[: err.start].count(b"\n") + 1
        raise UserError(f"{p} line {line}: not valid UTF-8 (byte {err.start}); re-save the file as UTF-8") from err
    seen = False
    for n, line in enumerate(text.split("\n"), start=1):  # not splitlines: U+2028 may sit inside a string
        if not line.strip():
            continue
        place = f"{p} line {n}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            raise UserError(f"{place}: invalid JSON ({err.msg} at column {err.colno})") from err
        if not isinstance(row, dict):
            raise UserError(f"{place}: expected a JSON object, got {type(row).__name__}")
        seen = True
        yield place, row
    if not seen:
        raise UserError(f"{p}: the file has no records")


def field(row: dict[str, Any], name: str, kind: type | tuple[type, ...], place: str) -> Any:
    """row[name], checked to be of `kind`; the error names place and field."""
    if name not in row:
        raise UserError(f"{place}: field '{name}' missing")
    value = row[name]
    if not isinstance(value, kind) or isinstance(value, bool) and bool not in _as_tuple(kind):
        want = " or ".join(k.__name__ for k in _as_tuple(kind))
        raise UserError(f"{place}: field '{name}' must be {want}, got {type(value).__name__}")
    return value


def _as_tuple(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


def unique_ids(ids_and_places: list[tuple[str, str]]) -> None:
    """Fail on the first duplicate sample id, naming both places."""
    first: dict[str, str] = {}
    for sid, place in ids_and_places:
        if sid in first:
            raise UserError(f"{place}: duplicate id {sid!r} (first at {first[sid]}); ids must be unique")
        first[sid] = place
