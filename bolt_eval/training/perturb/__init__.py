"""Perturbations of a long-CoT SFT set, after "LLMs Can Easily Learn to Reason from
Demonstrations: Structure, not content, is what matters!" (Li et al., arXiv 2502.07374,
SkyThought): content (wrong-answers, digits, keywords) and structure (shuffle, delete,
insert reasoning steps). Its perturbation code is mostly unpublished, so each transform is
the project's own, documented in its module (content.py, structure.py, wrong.py) and in
docs/perturb.md.

Rows are chat SFT rows {"messages": [...]} as `bolt-eval train sft` reads them. Only the last
assistant turn is perturbed, split into thoughts and solution by a thoughts preset
(bolt_eval/thoughts.py); every other message and key is copied as it was. Row i draws from
its own `random.Random(f"{seed}:{kind}:{i}")` (string seeds hash with SHA-512, not `hash()`),
so results are the same in every process and one row's result does not depend on the
others, except insert's donor steps, which are drawn (seeded) from the other rows. A row a
transform cannot apply to is kept unchanged and listed in the report with the reason.
"""

from __future__ import annotations

import difflib
import json
import random
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

from bolt_eval.thoughts import get_delimiters
from bolt_eval.training.perturb import content, structure, wrong
from bolt_eval.training.perturb.rows import Context, Outcome, Turn, read_turn, with_turn
from bolt_eval.types import UserError

KINDS = ("wrong-answers", "digits", "keywords", "shuffle", "delete", "insert")
TRANSFORMS: dict[str, Callable[[Turn, random.Random, float, Context], Outcome]] = {
    "wrong-answers": wrong.wrong_answers,
    "digits": content.digits,
    "keywords": content.keywords,
    "shuffle": structure.shuffle,
    "delete": structure.delete,
    "insert": structure.insert,
}
NEEDS_THOUGHTS = ("keywords", "shuffle", "delete", "insert")


@dataclass
class PerturbReport:
    """What one perturbation did; written beside its output as <out>.report.json."""

    kind: str
    ratio: float
    seed: int
    thoughts: str
    rows: int  # rows in
    changed: int  # rows whose assistant turn now differs
    skipped: list[dict[str, Any]]  # {"row": i (0-based), "reason": ...}; perturb_file adds "line"
    details: dict[str, int]  # the transform's counts summed over rows (numbers_replaced, steps_moved, ...)
    files: dict[str, Any] = field(default_factory=dict)  # perturb_file: input / output / pool paths and hashes

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        """A few lines for the terminal: rows, changed, skipped by reason, the counts."""
        lines = [f"{self.kind} at ratio {self.ratio:g} (seed {self.seed}, thoughts {self.thoughts}): "
                 f"{self.rows} rows, {self.changed} changed, {len(self.skipped)} skipped"]
        reasons: dict[str, int] = {}
        for s in self.skipped:
            reasons[s["reason"]] = reasons.get(s["reason"], 0) + 1
        lines += [f"  skipped, {reason}: {n}" for reason, n in sorted(reasons.items(), key=lambda kv: -kv[1])]
        lines += [f"  {key}: {value}" for key, value in self.details.items()]
        return "\n".join(lines)


def check_args(kind: str, ratio: float, thoughts: str) -> None:
    if kind not in KINDS:
        close = difflib.get_close_matches(kind, KINDS, n=1, cutoff=0.5)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise UserError(f"unknown perturbation kind {kind!r}; {hint}choose one of {', '.join(KINDS)}")
    if not (isinstance(ratio, (int, float)) and 0.0 <= ratio <= 1.0):
        raise UserError(f"ratio {ratio!r} is outside 0..1; give the share to perturb, e.g. --ratio 0.5")
    if get_delimiters(thoughts) is None and kind in NEEDS_THOUGHTS:
        raise UserError(f"--kind {kind} works on the thoughts; --thoughts none has none: pass the preset the set is "
                        "written in (bolt, think, sky-t1)")


def perturb(rows: list[dict[str, Any]], kind: str, ratio: float, seed: int, *, thoughts: str = "bolt",
            pool: list[dict[str, Any]] | None = None) -> tuple[list[dict[str, Any]], PerturbReport]:
    """Perturb `rows` (not modified) and say what was done. `pool` (wrong-answers only):
    entries {"prompt", "response", "correct"}, as `wrong.load_pool` reads a pool file."""
    return _perturb(rows, [f"row {i}" for i in range(len(rows))], kind, ratio, seed, thoughts, pool)


def _perturb(rows: list[dict[str, Any]], places: list[str], kind: str, ratio: float, seed: int, thoughts: str,
             pool: list[dict[str, Any]] | None) -> tuple[list[dict[str, Any]], PerturbReport]:
    check_args(kind, ratio, thoughts)
    if kind == "wrong-answers" and pool is None:
        raise UserError("--kind wrong-answers needs --pool: stage 1's <output_dir>/bootstrap/pool.jsonl, or chat "
                        "rows of sampled traces with a 'correct' field")
    delims = get_delimiters(thoughts)
    turns = [read_turn(row, place, delims, thoughts) for row, place in zip(rows, places)]
    all_thoughts = [t.thoughts or "" for t in turns]
    donors = [i for i, t in enumerate(all_thoughts) if t]
    traces, unusable = wrong.wrong_traces(pool or [], delims)
    out, skipped, details, changed = [], [], {}, 0
    for i, (row, turn) in enumerate(zip(rows, turns)):
        prompt = wrong.prompt_of(row, turn) if kind == "wrong-answers" else None
        ctx = Context(all_thoughts, donors, i, traces.get(prompt, []) if prompt is not None else [])
        result = TRANSFORMS[kind](turn, random.Random(f"{seed}:{kind}:{i}"), float(ratio), ctx)
        if result.skip is not None:
            skipped.append({"row": i, "reason": result.skip})
            out.append(row)
            continue
        for key, value in result.counts.items():
            details[key] = details.get(key, 0) + value
        assert result.text is not None
        if result.text != turn.text:
            changed += 1
            out.append(with_turn(row, turn, result.text))
        else:
            out.append(row)
    if kind == "wrong-answers":
        details = {"pool_prompts_with_wrong_traces": len(traces), "pool_wrong_traces": sum(map(len, traces.values())),
                   "pool_wrong_unusable": unusable, **details}
    report = PerturbReport(kind, float(ratio), seed, thoughts, len(rows), changed, skipped, dict(sorted(details.items())))
    return out, report


def perturb_file(src: Path, dst: Path, kind: str, ratio: float, seed: int, *, thoughts: str = "bolt",
                 pool: Path | None = None, force: bool = False) -> PerturbReport:
    """Read `src` (JSONL), perturb, write `dst` and `<dst>.report.json` atomically once
    everything succeeded; errors name the file and line. An existing `dst` needs `force`."""
    from bolt_eval.jsonl import read_jsonl
    from bolt_eval.store import dump, write_atomic
    from bolt_eval.training.workdir import file_sha256

    src, dst = Path(src), Path(dst)
    check_args(kind, ratio, thoughts)
    report_path = dst.with_name(dst.name + ".report.json")
    if dst.resolve() == src.resolve() or pool is not None and dst.resolve() == Path(pool).resolve():
        raise UserError(f"{dst}: the output would overwrite an input; write to another file with -o")
    if dst.is_dir():
        raise UserError(f"{dst} is a folder; -o names the JSONL file to write")
    if dst.exists() and not force:
        raise UserError(f"{dst} exists; pass --force to overwrite it, or choose another -o")
    places, rows = [], []
    for place, row in read_jsonl(src):
        places.append(place)
        rows.append(row)
    if kind != "wrong-answers":
        pool = None  # only wrong-answers reads a pool (an ablation recipe passes its pool to every condition)
    entries = wrong.load_pool(Path(pool)) if pool is not None else None
    out, report = _perturb(rows, places, kind, ratio, seed, thoughts, entries)
    for s in report.skipped:
        s["line"] = int(places[s["row"]].rsplit(" ", 1)[1])
    report.files = {"input": str(src), "input_sha256": file_sha256(src), "output": str(dst)}
    if pool is not None:
        report.files.update(pool=str(pool), pool_sha256=file_sha256(pool))
    if kind == "keywords":
        words = content.keywords_file()
        report.files.update(keywords=str(words), keywords_sha256=file_sha256(words))
    dst.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(dst, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in out))  # keys in their order
    report.files["output_sha256"] = file_sha256(dst)
    write_atomic(report_path, dump(report.to_dict()))
    return report
