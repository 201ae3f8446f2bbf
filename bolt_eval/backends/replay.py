"""`replay` backend: answers recorded elsewhere, scored as if generated here.

`--backend replay --model answers.jsonl`, one line per sample: {"id": ..., "response": "..."}
or {"id": ..., "responses": ["turn 1", "turn 2"]}. Ids are the benchmark's own sample ids.
A sample with no recorded answer fails (it is not scored as wrong).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from bolt_eval.backends.base import Backend, Progress
from bolt_eval.jsonl import field, read_jsonl, unique_ids
from bolt_eval.registry import backends
from bolt_eval.types import Completion, Request, UserError


def load_answers(path: str) -> dict[str, list[str]]:
    answers: dict[str, list[str]] = {}
    places = []
    for place, row in read_jsonl(path):
        sid = str(field(row, "id", (str, int), place))
        if "responses" in row:
            turns = field(row, "responses", list, place)
            if not all(isinstance(t, str) for t in turns):
                raise UserError(f"{place}: field 'responses' must be a list of strings")
        else:
            turns = [field(row, "response", str, place)]
        places.append((sid, place))
        answers[sid] = turns
    unique_ids(places)
    return answers


@backends.register("replay")
class ReplayBackend(Backend):
    def __init__(self, spec: Any) -> None:
        super().__init__(spec)
        self.path = Path(spec.model)
        self.answers = load_answers(spec.model)

    @classmethod
    def identity(cls, spec: Any) -> dict[str, Any]:
        path = Path(spec.model)
        try:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
        except OSError as err:
            raise UserError(f"--model {spec.model}: cannot read the answers file ({err.strerror})") from err
        return {"backend": "replay", "model": {"kind": "replay", "location": str(path.resolve()), "sha256": digest}}

    def generate(self, requests: list[Request], progress: Progress | None = None) -> list[list[Completion]]:
        out = []
        for r in requests:
            if r.params.n != 1:
                raise UserError("the replay backend holds one answer per turn: use --n 1")
            turns = self.answers.get(r.sample_id, [])
            if r.turn < len(turns):
                out.append([Completion(turns[r.turn], 0, 0, "replay")])
            else:
                out.append([Completion.failed(f"{self.path}: no recorded answer for id {r.sample_id!r} turn {r.turn + 1}")])
        if progress:
            progress(len(requests))
        return out
