"""Best-of-N runs in `compare`: the answer each kept, and when they may share a column.

A Best-of-N run (bolt_eval/best_of.py) stores all N answers of each sample; its headline is
over the answer the reward model kept (best_of.jsonl), so paired deltas read that one. It
differs from a plain run of the same model by design (n, temperature, top_p, a reward model
choosing): compare refuses to put the two side by side unless asked (--allow-best-of-mix),
and otherwise holds them to the same data, prompts, thoughts and token limits as any runs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bolt_eval.jsonl import read_jsonl
from bolt_eval.types import UserError

DECODING = ("n", "temperature", "top_p")  # what makes a Best-of-N run differ from a plain one by design


def picked_records(folder: Path, manifest: dict[str, Any], records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A Best-of-N run's records cut to the output kept (best_of.jsonl); others unchanged."""
    if not manifest.get("config", {}).get("best_of"):
        return records
    picks = {row["id"]: row["pick"] for _, row in read_jsonl(folder / "best_of.jsonl")}
    if missing := [r["id"] for r in records if r["id"] not in picks]:
        raise UserError(f"{folder / 'best_of.jsonl'}: no pick for sample {missing[0]!r}; re-run the same command")
    return [{**r, "outputs": [r["outputs"][picks[r["id"]]]]} for r in records]


def is_best_of(run: Any) -> bool:
    return bool(run.manifest.get("config", {}).get("best_of"))


def comparable_config(config: dict[str, Any], column_has_best_of: bool) -> dict[str, Any]:
    """The config compare holds runs to: in a column with Best-of-N runs, n, temperature and
    top_p are left out of `sampling` (Best-of-N differs there by design); they are held
    equal among the Best-of-N runs and among the plain runs by `decoding_problems`."""
    if not column_has_best_of:
        return config
    return {**config, "sampling": {k: v for k, v in config.get("sampling", {}).items() if k not in DECODING}}


def decoding_problems(runs: list[Any]) -> list[str]:
    """Lines naming the runs of one column whose temperature / top_p differ within their kind."""
    if not any(map(is_best_of, runs)):
        return []
    lines = []
    for kind, group in (("Best-of-N", [r for r in runs if is_best_of(r)]), ("plain", [r for r in runs if not is_best_of(r)])):
        values: dict[str, list[str]] = {}
        for r in group:
            s = r.manifest.get("config", {}).get("sampling", {})
            values.setdefault(json.dumps({k: s.get(k) for k in ("temperature", "top_p")}), []).append(r.label)
        if len(values) > 1:
            lines.append(f"sampling of the {kind} runs (temperature, top_p): " + " vs ".join(
                f"{v} ({', '.join(labels)})" for v, labels in values.items()))
    return lines


def refuse_mix(runs: list[Any], allow: bool) -> list[str]:
    """Refuse a column holding a Best-of-N run and a plain run of the same model unless
    `allow`; returns notes naming the Best-of-N rows."""
    from bolt_eval.comparing.comparable import _portable

    bon = [r for r in runs if is_best_of(r)]
    notes = [f"{r.task}: {r.label} is Best-of-{r.manifest['config']['best_of']['n']} (reward "
             f"{r.manifest['config']['best_of']['reward_sha256'][:12]}): one of N samples kept by a reward model" for r in bon]
    if allow or not bon:
        return notes
    model = lambda r: json.dumps(_portable(r.manifest.get("config", {}).get("backend")), sort_keys=True)  # noqa: E731
    for b in bon:
        for r in runs:
            if not is_best_of(r) and model(r) == model(b):
                raise UserError(
                    f"refusing to put Best-of-N run {b.label} ({b.dir}) beside the plain run {r.label} ({r.dir}) of the "
                    f"same model on {r.task}: a Best-of-N row keeps one of N samples chosen by a reward model, a plain "
                    "row is the model's single answer. Pass --allow-best-of-mix to compare them (the table notes the "
                    "Best-of-N rows)")
    return notes
