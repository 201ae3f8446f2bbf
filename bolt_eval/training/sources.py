"""Query sources: the one loader every training stage reads its prompts with.

A `DataSource` of a recipe is a local JSONL file (`path`) or a hub dataset (`dataset` at a
pinned `revision`, read through `datasets.load_dataset`). Each row becomes a `Query`:

- an instruction row: the text of `field`, else of the first of `messages`,
  `conversations`, `prompt`, `instruction`, `query`. A conversation (`[{"role", "content"}]`
  or ShareGPT's `[{"from", "value"}]`) gives its first user turn, as the BOLT paper (Pang et
  al., 2025, 3.1) and BenchBuilder take first turns. An Alpaca-style `input` is appended to
  its `instruction`. A row whose conversation has no user turn, or whose text is empty, is
  skipped and counted (hub sets hold such rows); a row with none of the fields is an error.
- a benchmark row (`task: zebralogic`): the row is in that benchmark's schema; the prompt is
  the harness's own prompt for it (`Task.to_sample`, `Task.prompt`, as an evaluation builds
  it) and `reference` keeps the row, so a verifier reward scores the answer with the
  benchmark's own scorer.

Ids come from `id_field` (default "id"), else `<source>:<row index>`; a duplicate id is an
error naming both places. Curated query files (`read_query_file`/`write_query_file`) are
JSONL rows {"id", "prompt", "source", "reference"?, "topic"?}.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from bolt_eval.jsonl import field, read_jsonl, unique_ids
from bolt_eval.training.recipe import DataSource, resolve_path
from bolt_eval.training.workdir import file_sha256, write_jsonl
from bolt_eval.types import UserError

TEXT_FIELDS = ("messages", "conversations", "prompt", "instruction", "query")
USER_ROLES = ("user", "human")


@dataclass(frozen=True)
class Query:
    id: str
    prompt: str
    source: str
    reference: dict[str, Any] | None = None  # verifiable rows: {"task": "zebralogic", "row": {...}}
    topic: str | None = None

    def to_row(self) -> dict[str, Any]:
        row: dict[str, Any] = {"id": self.id, "prompt": self.prompt, "source": self.source}
        if self.reference is not None:
            row["reference"] = self.reference
        if self.topic is not None:
            row["topic"] = self.topic
        return row


def load_queries(sources: list[DataSource]) -> tuple[list[Query], list[dict[str, Any]]]:
    """Every source's queries, in order, and what was read: [{source, sha256 | revision, rows}]."""
    queries: list[Query] = []
    places: list[tuple[str, str]] = []
    info = []
    for src in sources:
        rows, record = _rows(src)
        name = record["source"]
        task = _task(src.task) if src.task else None
        before = len(queries)
        for index, (place, row) in enumerate(rows):
            q = _query(src, name, task, index, place, row)
            if q is not None:
                queries.append(q)
                places.append((q.id, place))
        kept = len(queries) - before
        info.append({**record, "queries": kept, "skipped_no_text": len(rows) - kept})
    unique_ids(places)
    return queries, info


def read_query_file(path: str | Path) -> list[Query]:
    """A curated query file (as `write_query_file` writes it); errors name the line and field."""
    out, places = [], []
    for place, row in read_jsonl(path):
        ident = str(field(row, "id", (str, int), place))
        prompt = field(row, "prompt", str, place)
        if not prompt.strip():
            raise UserError(f"{place}: field 'prompt' is empty; remove the line or give the query text")
        reference = row.get("reference")
        if reference is not None and not isinstance(reference, dict):
            raise UserError(f"{place}: field 'reference' must be an object like {{\"task\": ..., \"row\": ...}}")
        topic = row.get("topic")
        if topic is not None and not isinstance(topic, str):
            raise UserError(f"{place}: field 'topic' must be a string")
        out.append(Query(ident, prompt, str(row.get("source", Path(path).name)), reference, topic))
        places.append((ident, place))
    unique_ids(places)
    return out


def write_query_file(path: str | Path, queries: list[Query]) -> str:
    """Write atomically; returns the file's sha256."""
    return write_jsonl(Path(path), [q.to_row() for q in queries])


def _rows(src: DataSource) -> tuple[list[tuple[str, dict[str, Any]]], dict[str, Any]]:
    if bool(src.path) == bool(src.dataset):
        raise UserError(f"a query source needs exactly one of 'path' (a local JSONL file) or 'dataset' "
                        f"(a hub id with 'revision'); got {src.model_dump(exclude_none=True)}")
    if src.path:
        path = resolve_path(src.path)
        rows = list(_limited(read_jsonl(path), src.limit))
        return rows, {"source": src.path, "path": str(path), "sha256": file_sha256(path), "rows": len(rows)}
    return _hub_rows(src)


def _hub_rows(src: DataSource) -> tuple[list[tuple[str, dict[str, Any]]], dict[str, Any]]:
    import datasets

    assert src.dataset is not None
    if not src.revision:
        raise UserError(f"query source {src.dataset}: pin a 'revision' (a commit sha or tag) so the data is reproducible")
    try:
        ds = datasets.load_dataset(src.dataset, src.config, split=src.split, revision=src.revision)
    except Exception as err:  # offline, gated, a typo: all end here
        raise UserError(
            f"query source {src.dataset} (revision {src.revision}, split {src.split}) cannot be loaded "
            f"({type(err).__name__}: {str(err)[:200]}). Without the hub, download it elsewhere, save it as JSONL "
            f"and use `path: <file>` in place of `dataset:` in the recipe") from err
    n = len(ds) if src.limit is None else min(src.limit, len(ds))
    rows = [(f"{src.dataset} row {i}", dict(ds[i])) for i in range(n)]
    return rows, {"source": src.dataset, "revision": src.revision, "config": src.config, "split": src.split,
                  "fingerprint": getattr(ds, "_fingerprint", None), "rows": len(rows)}


def _limited(rows: Iterator[tuple[str, dict[str, Any]]], limit: int | None) -> Iterator[tuple[str, dict[str, Any]]]:
    for i, row in enumerate(rows):
        if limit is not None and i >= limit:
            return
        yield row


def _task(name: str) -> Any:
    from bolt_eval.registry import benchmarks

    return benchmarks.get(name)(data=None)


def _query(src: DataSource, name: str, task: Any, index: int, place: str, row: dict[str, Any]) -> Query | None:
    if task is not None:
        sample = task.to_sample(row, place)
        ident = str(row[src.id_field]) if src.id_field and src.id_field in row else sample.id
        return Query(ident, task.prompt(sample, 0), name, {"task": src.task, "row": row})
    text = _text(src, place, row)
    if not text:
        return None
    id_field = src.id_field or "id"
    if src.id_field and src.id_field not in row:
        raise UserError(f"{place}: field '{src.id_field}' (the source's id_field) missing")
    ident = str(row[id_field]) if id_field in row else f"{name}:{index}"
    return Query(ident, text, name)


def _text(src: DataSource, place: str, row: dict[str, Any]) -> str:
    if src.field:
        if src.field not in row:
            raise UserError(f"{place}: field '{src.field}' (the source's field) missing")
        name = src.field
    else:
        name = next((f for f in TEXT_FIELDS if f in row), "")
        if not name:
            raise UserError(f"{place}: no query text: expected one of the fields {', '.join(TEXT_FIELDS)}, "
                            f"or set 'field' on this source in the recipe")
    value = row[name]
    if isinstance(value, list):
        return first_user_turn(value, place, name)
    if not isinstance(value, str):
        raise UserError(f"{place}: field '{name}' must be a string or a list of messages, got {type(value).__name__}")
    extra = row.get("input") if name == "instruction" else None
    return (value.strip() + "\n\n" + extra.strip()).strip() if isinstance(extra, str) and extra.strip() else value.strip()


def first_user_turn(messages: list[Any], place: str, name: str) -> str:
    """The first user message of a conversation ({role, content} or ShareGPT {from, value});
    "" when it has none."""
    for i, m in enumerate(messages):
        if not isinstance(m, dict):
            raise UserError(f"{place}: field '{name}[{i}]' must be a message object, got {type(m).__name__}")
        role = m.get("role", m.get("from"))
        content = m.get("content", m.get("value"))
        if role in USER_ROLES:
            if not isinstance(content, str):
                raise UserError(f"{place}: field '{name}[{i}]' has no text content")
            return content.strip()
    return ""
