"""`bolt-eval train ablation`: the "structure, not content" study (Li et al., arXiv
2502.07374, Table 2) on one's own long-CoT SFT set and model.

The recipe's `ablation:` section names a base SFT set and a list of conditions (a
perturbation kind and ratio from `bolt_eval.training.perturb`, `none` for the set as it is,
and optionally `method: full | lora`). For each condition:

    <output_dir>/ablation/<slug>/data.jsonl     the perturbed set (`perturb_file`: seeded,
                                                deterministic; `none`: the base set's bytes)
    <output_dir>/ablation/<slug>/data.jsonl.report.json   what the transform changed
    <output_dir>/ablation/<slug>/sft/           stage 2's trainer on that set (sft.run: the
                                                recipe's sft settings, resumed from its last
                                                checkpoint after a kill)
    <output_dir>/ablation/results/              the final model evaluated by `evaluate()` on
                                                the recipe's eval suite, labelled <name>/<slug>

The untrained model is evaluated once, as `<name>/untrained`. Every finished row is a record
in `<output_dir>/ablation/conditions.jsonl` keyed by the hash of everything that produced
it, so a re-run skips it whole and a killed run resumes at the condition it was in. The
table (ablation_table.py) is built from those records: rows untrained, the unperturbed
condition, then the others; each cell with its CI and its paired delta to the unperturbed
condition (comparing.table.compare), with the paper's rows beside on `--reference`.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from bolt_eval.jsonl import read_jsonl
from bolt_eval.store import config_hash, dump, write_atomic
from bolt_eval.training.recipe import AblationCondition, Recipe, resolve_path
from bolt_eval.training.sft import read_rows
from bolt_eval.training.workdir import Journal, StageDir, file_sha256
from bolt_eval.types import UserError

STAGE = "ablation"
UNTRAINED = "untrained"


def base_data(recipe: Recipe) -> Path:
    """The base SFT set: ablation.data, else sft.data."""
    cfg = recipe.section("ablation")
    name = cfg.data or recipe.section("sft").data
    if not name:
        raise UserError(f"{recipe.source}: ablation.data: no base SFT set; name a chat-format JSONL file "
                        "(rows {\"messages\": [...]}) as ablation.data or sft.data")
    path = resolve_path(name)
    if not path.is_file():
        key = "ablation.data" if cfg.data else "sft.data"
        raise UserError(f"{recipe.source}: {key} {name}: no such file; point it at a chat-format JSONL file")
    return path


def method_of(recipe: Recipe, cond: AblationCondition) -> str:
    return cond.method or recipe.section("ablation").method or recipe.section("sft").method


def label_of(recipe: Recipe, slug: str) -> str:
    return f"{recipe.name}/{slug}"


def _eval_key(recipe: Recipe) -> dict[str, Any]:
    return {"eval": recipe.eval.model_dump(exclude={"mode"}), "thoughts": recipe.thoughts}


def _model_key(recipe: Recipe) -> dict[str, Any]:
    """The starting model: its name, and for a local folder its weights' fingerprint (a
    model retrained in place is a new model)."""
    from bolt_eval.models import resolve
    from bolt_eval.training.checkpoints import fingerprint

    source = resolve(recipe.model, recipe.revision)
    return {"model": recipe.model, "revision": recipe.revision,
            "fingerprint": fingerprint(source.location) if source.kind != "hub" else None}


def untrained_key(recipe: Recipe) -> str:
    return config_hash({"row": UNTRAINED, **_model_key(recipe), **_eval_key(recipe)})


def condition_key(recipe: Recipe, cond: AblationCondition, data_sha: str, pool_sha: str | None) -> str:
    """Everything that makes a condition's row: the transform, the data, training, evaluation."""
    sft = recipe.section("sft").model_copy(update={"data": None, "method": method_of(recipe, cond)})
    return config_hash({
        "kind": cond.kind, "ratio": None if cond.kind == "none" else cond.ratio, "seed": recipe.section("ablation").seed,
        "data_sha256": data_sha, "pool_sha256": pool_sha, "sft": sft.model_dump(), **_model_key(recipe),
        "train_seed": recipe.seed,
        "chat_template": file_sha256(resolve_path(recipe.chat_template)) if recipe.chat_template else None,
        **_eval_key(recipe)})


def run(recipe: Recipe, progress: bool = True, reference: str | None = None) -> str:
    from bolt_eval.comparing.reference import load_reference
    from bolt_eval.training.ablation_table import write_table

    cfg = recipe.section("ablation")
    recipe.section("sft")
    ref = load_reference(reference) if reference else None  # a wrong name fails before any training
    data = base_data(recipe)
    read_rows(data)  # a malformed base set fails here, naming its line
    pool_path = resolve_path(cfg.pool) if cfg.pool else None
    if pool_path is not None and not pool_path.is_file():
        raise UserError(f"{recipe.source}: ablation.pool {cfg.pool}: no such file; point it at stage 1's "
                        "<output_dir>/bootstrap/pool.jsonl (sampled traces with their verifier scores) or at chat rows "
                        "that each carry \"correct\": true or false (docs/perturb.md)")
    data_sha, pool_sha = file_sha256(data), file_sha256(pool_path) if pool_path else None
    keys = [(UNTRAINED, untrained_key(recipe))] + [
        (c.slug(), condition_key(recipe, c, data_sha, pool_sha)) for c in cfg.conditions]
    stage = StageDir(recipe, STAGE, {"keys": keys})
    with stage:
        journal = stage.journal("conditions.jsonl")
        started = time.monotonic()
        todo = [(c, key) for c, (_, key) in zip(cfg.conditions, keys[1:], strict=True) if key not in journal]
        # every set is written (and every row checked) before anything trains
        reports = {c.slug(): _perturbed_set(recipe, c, data, pool_path, stage.dir / c.slug()) for c, _ in todo}
        records = [_untrained(recipe, stage.dir, journal, keys[0][1], progress)]
        for cond, (slug, key) in zip(cfg.conditions, keys[1:], strict=True):
            if key in journal:
                print(f"bolt-eval: ablation: {slug}: complete with this configuration, skipped", file=sys.stderr)
                records.append(journal.records[key])
            else:
                records.append(_condition(recipe, cond, key, stage.dir, journal, reports[slug], progress))
        table = write_table(recipe, stage.dir, records, ref)
        stage.finish(rows=[{k: r[k] for k in ("slug", "label", "run_ids")} for r in records],
                     base_data={"path": str(data), "sha256": data_sha},
                     wall_seconds=round(time.monotonic() - started, 2), table=str(table))
    return table.read_text(encoding="utf-8")


def _untrained(recipe: Recipe, folder: Path, journal: Journal, key: str, progress: bool) -> dict[str, Any]:
    if key in journal:
        return journal.records[key]
    from bolt_eval.models import resolve

    source = resolve(recipe.model, recipe.revision)
    model = source.location if source.kind != "hub" else recipe.model
    entry = _evaluate(recipe, model, folder, UNTRAINED, stage="init", progress=progress)
    record = {"key": key, "slug": UNTRAINED, "label": entry["label"], "kind": None, "ratio": None, "method": None,
              "model": str(model), "run_ids": entry["run_ids"], "eval_seconds": entry["eval_seconds"]}
    journal.append(record)
    return record


def _condition(recipe: Recipe, cond: AblationCondition, key: str, folder: Path, journal: Journal,
               report: dict[str, Any], progress: bool) -> dict[str, Any]:
    """Train the condition's set (resumed from its last checkpoint) and evaluate the final model."""
    from bolt_eval.training import sft

    slug, method = cond.slug(), method_of(recipe, cond)
    where = folder / slug
    print(f"bolt-eval: ablation: {slug} ({method} SFT)", file=sys.stderr, flush=True)
    started = time.monotonic()
    arm = recipe.model_copy(update={
        "output_dir": str(where),
        "sft": recipe.section("sft").model_copy(update={"data": str(where / "data.jsonl"), "method": method}),
        "eval": recipe.eval.model_copy(update={"mode": "off"})})  # only the final model is evaluated, below
    print(sft.run(arm, progress=progress), file=sys.stderr, flush=True)
    manifest = StageDir(arm, "sft", {}).previous() or {}
    entry = _evaluate(recipe, Path(manifest["final"]), folder, slug, stage=STAGE, progress=progress)
    record = {
        "key": key, "slug": slug, "label": entry["label"], "kind": cond.kind,
        "ratio": None if cond.kind == "none" else cond.ratio, "method": method, "perturb": report,
        "final": manifest["final"], "served": manifest.get("served"), "run_ids": entry["run_ids"],
        "sft": {k: manifest.get(k) for k in ("examples", "steps", "first_loss", "last_loss", "train_seconds",
                                             "wall_seconds", "resumed_from", "trainable_parameters")},
        "eval_seconds": entry["eval_seconds"], "wall_seconds": round(time.monotonic() - started, 2)}
    journal.append(record)
    return record


def _perturbed_set(recipe: Recipe, cond: AblationCondition, data: Path, pool: Path | None,
                   where: Path) -> dict[str, Any]:
    """Write the condition's SFT set and its report (perturb_file: `data.jsonl` and
    `data.jsonl.report.json`); the transform is seeded, so a resumed condition writes the
    same bytes and its trainer's checkpoints stay valid."""
    out = where / "data.jsonl"
    if cond.kind == "none":
        where.mkdir(parents=True, exist_ok=True)
        write_atomic(out, data.read_text(encoding="utf-8"))
        report = {"kind": "none", "rows": sum(1 for _ in read_jsonl(data)), "changed": 0,
                  "files": {"input": str(data), "input_sha256": file_sha256(data), "output": str(out)}}
        write_atomic(where / "data.jsonl.report.json", dump(report))
        return report
    from bolt_eval.training.perturb import perturb_file

    return perturb_file(data, out, cond.kind, cond.ratio, recipe.section("ablation").seed, thoughts=recipe.thoughts,
                        pool=pool, force=True).to_dict()


def _evaluate(recipe: Recipe, model: str | Path, folder: Path, slug: str, stage: str, progress: bool) -> dict[str, Any]:
    """One row's model through the one evaluation path, into its own trajectory file (so two
    conditions that happen to train identical weights still get a row each)."""
    from bolt_eval.training.autoeval import evaluate_model
    from bolt_eval.training.trajectory import Trajectory

    trajectory = Trajectory(folder / slug / "trajectory.jsonl")
    try:
        return evaluate_model(recipe.eval, recipe.thoughts, model, label=label_of(recipe, slug), trajectory=trajectory,
                              results=folder / "results", stage=stage, progress=progress)
    finally:
        trajectory.close()
