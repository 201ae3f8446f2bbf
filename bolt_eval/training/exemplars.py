"""The long-CoT ICL exemplars of BOLT stage 1 and the few-shot prompt built from them.

BOLT (Pang et al., arXiv 2502.03860, Section 3.1) bootstraps long chain-of-thought data
from a short-CoT instruct model by in-context learning: each query is shown after k of
10 hand-written (query, internal thoughts, external solution) exemplars (paper: k = 3),
so the model imitates the thoughts-then-solution format. The paper's exemplars are
unpublished; the project writes its own in training/exemplars/ (see its README.md).

An exemplar file is front matter (`id`, `topic`) and three sections, each tag alone on
its line: <query>...</query>, then the assistant turn spelled in the `bolt` thoughts
preset (<internal_thoughts>...</internal_thoughts> <external_solution>...
</external_solution>), the format `split_response` reads, stage 1 writes and stage 2
teaches. The draw of k exemplars for a query depends only on (seed, key, exemplar ids),
through SHA-256, so it is the same on every machine and Python version.
"""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass
from pathlib import Path

import yaml

from bolt_eval.thoughts import PRESETS, Delimiters, join_response
from bolt_eval.training.recipe import resolve_path
from bolt_eval.types import Message, UserError

BOLT = PRESETS["bolt"]
assert BOLT is not None and BOLT.solution_open and BOLT.solution_close
QUERY_OPEN, QUERY_CLOSE = "<query>", "</query>"
# (section, opening tag, closing tag, what it holds) in the order a file must give them.
SECTIONS = (
    ("query", QUERY_OPEN, QUERY_CLOSE, "query"),
    ("thoughts", BOLT.thought_open, BOLT.thought_close, "internal thoughts"),
    ("solution", BOLT.solution_open, BOLT.solution_close, "external solution"),
)
_MARKERS = {tag: (name, tag == opening) for name, opening, closing, _ in SECTIONS for tag in (opening, closing)}
_LABEL = {name: label for name, _, _, label in SECTIONS}
_CLOSE = {name: closing for name, _, closing, _ in SECTIONS}
FRONT_MATTER_KEYS = ("id", "topic")

SYSTEM_TEMPLATE = (
    "Think first, between {thought_open} and {thought_close}: analyse the problem, plan, weigh "
    "alternatives, check your work and fix mistakes. Then {solution_part}"
)
_SOLUTION_TAGGED = "give the final answer between {solution_open} and {solution_close}."
_SOLUTION_BARE = "give the final answer after {thought_close}."


@dataclass(frozen=True)
class Exemplar:
    """One (query, internal thoughts, external solution) triple; `place` is its file."""

    id: str
    topic: str
    query: str
    thoughts: str
    solution: str
    place: str

    def response(self, delims: Delimiters = BOLT) -> str:
        """The assistant turn, spelled in `delims` (the preset the harness splits on)."""
        return join_response(self.thoughts, self.solution, delims)


def load_exemplars(folder: str | Path) -> list[Exemplar]:
    """Every exemplar file (*.md except README.md) in `folder`, in file-name order.

    A relative folder resolves as recipe paths do (the current directory, else bolt-eval's
    own repository). Any defect raises UserError naming the file, the line and the fix."""
    path = resolve_path(str(folder))
    if not path.is_dir():
        raise UserError(f"{path}: no such exemplar folder; set bootstrap.exemplars to a folder of "
                        f"exemplar files (the shipped ones are in training/exemplars)")
    files = sorted(p for p in path.glob("*.md") if p.name != "README.md")
    if not files:
        raise UserError(f"{path}: no exemplar files (*.md besides README.md); add some "
                        f"(see training/exemplars/README.md for the format)")
    exemplars: list[Exemplar] = []
    seen: dict[str, str] = {}
    for file in files:
        ex = parse_exemplar(file.read_text(encoding="utf-8"), str(file))
        if ex.id in seen:
            raise UserError(f"{file}: id {ex.id!r} is already used by {seen[ex.id]}; give each "
                            f"exemplar its own id")
        seen[ex.id] = str(file)
        exemplars.append(ex)
    return exemplars


def parse_exemplar(text: str, place: str) -> Exemplar:
    """One exemplar file's text; `place` names it in errors."""
    lines = text.splitlines()
    if not lines or lines[0].strip() != "---":
        raise UserError(f"{place} line 1: an exemplar starts with front matter: a '---' line, "
                        f"'id: ...', 'topic: ...', and a closing '---' line")
    end = next((i for i in range(1, len(lines)) if lines[i].strip() == "---"), None)
    if end is None:
        raise UserError(f"{place} line 1: the front matter is never closed; add a '---' line after it")
    meta = _front_matter("\n".join(lines[1:end]), place)
    body = _sections(lines[end + 1:], end + 2, place)
    return Exemplar(id=meta["id"], topic=meta["topic"], place=place, **body)


def _front_matter(text: str, place: str) -> dict[str, str]:
    try:
        meta = yaml.safe_load(text) or {}
    except yaml.YAMLError as err:
        raise UserError(f"{place}: the front matter is not valid YAML: {err}") from err
    if not isinstance(meta, dict):
        raise UserError(f"{place} line 2: the front matter is 'key: value' lines (id, topic)")
    unknown = sorted(set(map(str, meta)) - set(FRONT_MATTER_KEYS))
    if unknown:
        raise UserError(f"{place}: front matter key {unknown[0]!r} is unknown; the keys are "
                        f"{', '.join(FRONT_MATTER_KEYS)}")
    for key in FRONT_MATTER_KEYS:
        if not isinstance(meta.get(key), str) or not meta[key].strip():
            raise UserError(f"{place}: front matter needs '{key}' (a non-empty text); add "
                            f"'{key}: ...' between the '---' lines")
    return {key: meta[key].strip() for key in FRONT_MATTER_KEYS}


def _sections(lines: list[str], first_line: int, place: str) -> dict[str, str]:
    """The three sections' texts; each tag stands alone on its line, nowhere else."""
    found: dict[str, str] = {}
    opened_at: dict[str, int] = {}
    current: tuple[str, int] | None = None  # (section, line of its opening tag)
    buffer: list[str] = []
    for n, line in enumerate(lines, start=first_line):
        marker = _MARKERS.get(line.strip())
        if marker is None:
            tag = next((t for t in _MARKERS if t in line), None)
            where = f"the {_LABEL[current[0]]}" if current else "the text outside the sections"
            if tag is not None:
                raise UserError(f"{place} line {n}: {where} contains the tag {tag}; remove it "
                                f"(a tag stands alone on its own line, and only where a section opens or closes)")
            if current is None and line.strip():
                raise UserError(f"{place} line {n}: text outside the sections; move it inside "
                                f"{QUERY_OPEN}, {BOLT.thought_open} or {BOLT.solution_open}")
            buffer.append(line)
            continue
        name, opening = marker
        if current is not None and (opening or name != current[0]):
            raise UserError(f"{place} line {current[1]}: the {_LABEL[current[0]]} section is never closed; "
                            f"add a {_CLOSE[current[0]]} line after it")
        if not opening:
            if current is None:
                raise UserError(f"{place} line {n}: {line.strip()} closes a section that is not open; "
                                f"remove it or add its opening tag")
            text = "\n".join(buffer).strip()
            if not text:
                raise UserError(f"{place} line {current[1]}: the {_LABEL[name]} section is empty; write it")
            found[name], opened_at[name] = text, current[1]
            current = None
            continue
        if name in found:
            raise UserError(f"{place} line {n}: a second {_LABEL[name]}; an exemplar has exactly one")
        current, buffer = (name, n), []
    if current is not None:
        raise UserError(f"{place} line {current[1]}: the {_LABEL[current[0]]} section is never closed; "
                        f"add a {_CLOSE[current[0]]} line after it")
    for name, opening, closing, label in SECTIONS:
        if name not in found:
            raise UserError(f"{place}: the {label} section is missing; add it between a {opening} "
                            f"line and a {closing} line")
    for (first, *_), (second, *_) in itertools.pairwise(SECTIONS):
        if opened_at[first] > opened_at[second]:
            raise UserError(f"{place} line {opened_at[first]}: the {_LABEL[first]} must come before the "
                            f"{_LABEL[second]}; the order is query, internal thoughts, external solution")
    return found


def draw(exemplars: list[Exemplar], k: int, seed: int, key: str) -> list[str]:
    """The ids of the k exemplars shown to query `key`, in the order they are shown."""
    return [ex.id for ex in _choose(exemplars, k, seed, key)]


def icl_messages(query: str, exemplars: list[Exemplar], k: int, seed: int, key: str,
                 system: str | None = None, delims: Delimiters = BOLT) -> tuple[Message, ...]:
    """The stage-1 prompt for one query: a system instruction, k exemplars as few-shot
    user/assistant turns (responses spelled in `delims`), then the query.

    `system` None: the project's instruction (`system_instruction(delims)`); "": no system
    turn (for chat templates without one); any other text replaces the instruction."""
    if not query.strip():
        raise UserError(f"query {key}: the query text is empty; fix or drop it in the query set")
    messages: list[Message] = []
    instruction = system_instruction(delims) if system is None else system
    if instruction:
        messages.append({"role": "system", "content": instruction})
    for ex in _choose(exemplars, k, seed, key):
        messages.append({"role": "user", "content": ex.query})
        messages.append({"role": "assistant", "content": ex.response(delims)})
    messages.append({"role": "user", "content": query})
    return tuple(messages)


def system_instruction(delims: Delimiters = BOLT) -> str:
    """The project's instruction: think inside the thought tags, then answer."""
    tail = _SOLUTION_TAGGED if delims.solution_open and delims.solution_close else _SOLUTION_BARE
    names = {"thought_open": delims.thought_open, "thought_close": delims.thought_close,
             "solution_open": delims.solution_open, "solution_close": delims.solution_close}
    return SYSTEM_TEMPLATE.format(**names, solution_part=tail.format(**names))


def _choose(exemplars: list[Exemplar], k: int, seed: int, key: str) -> list[Exemplar]:
    """k exemplars without replacement: those whose SHA-256 of (seed, key, id) is smallest.

    Each (seed, key) ranks the exemplars by an independent hash, which is a uniformly random
    permutation for practical purposes; unlike `random` or `hash()` it is the same everywhere."""
    if not 0 <= k <= len(exemplars):
        raise UserError(f"bootstrap.k = {k}: there are {len(exemplars)} exemplars to draw from; "
                        f"set k between 0 and {len(exemplars)}")

    def rank(ex: Exemplar) -> str:
        return hashlib.sha256(f"{seed}\0{key}\0{ex.id}".encode("utf-8")).hexdigest()

    return sorted(exemplars, key=rank)[:k]
