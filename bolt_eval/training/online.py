"""BOLT stage 3: online training of the SFT model with the outcome reward model (ORM).

`bolt-eval train online --recipe R` (Pang et al., arXiv 2502.03860, Section 3.3). For each
iteration i = 1..`online.iterations`, from the previous iteration's policy (the SFT model
first: `<output_dir>/sft/final/` once the SFT manifest says complete, or `online.init`):

  dpo (the paper):  sample n responses per prompt through the harness's backends, score
                    them with the recipe's ORM (format reward included as a component),
                    pair best against worst (pairs.py), trl DPOTrainer with the KL
                    reference `online.reference` (policy_dpo.py)
  rloo, reinforce:  trl's RLOOTrainer / GRPOTrainer with the ORM as reward function
                    (policy_rl.py; the paper's Table 3 ablation)
  ppo:              trl 1.12.0's PPOTrainer with the recipe's classifier ORM as reward model
                    (policy_ppo.py; in the .nox/ppo environment when this trl has no PPO)

then the iteration's model `iter-<i>/final/` is evaluated into the run's trajectory
(autoeval.py, when `eval.mode: inline`) and the policy's mean ORM reward on the held-out
prompts (`online.held_out`, sampled with the same settings) is recorded, as it is for the
starting policy (iteration 0). Folder:

    online/manifest.json                    the stage: config, sources, every iteration
    online/held-out/iter-<i>.{samples,rewards}.jsonl
    online/iter-<i>/samples.jsonl rewards.jsonl pairs.jsonl   (dpo)
    online/iter-<i>/trainer/checkpoint-*    trl checkpoints (a killed training resumes; removed
                                            once the iteration's model is saved)
    online/iter-<i>/final/                  the iteration's model
    online/iter-<i>/manifest.json           counts, rewards, wall times, trainer args

The config holds the reward as it resolves (`describe()`: weight fingerprints, template
hashes, format rules), not the recipe's words for it. A finished stage (manifest
`complete`, same config hash) returns its table at once; a
finished iteration (its manifest `complete` with the same configuration) is skipped. The
iterations' key leaves `online.iterations` out, so a finished run can be extended.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bolt_eval.store import config_hash
from bolt_eval.training.online_iteration import STAGE, Iteration, held_out_reward, read_manifest
from bolt_eval.training.recipe import Recipe
from bolt_eval.training.trajectory import retire_stage
from bolt_eval.training.workdir import StageDir
from bolt_eval.types import UserError

# recipe fields added after stage-3 folders existed, with their defaults (left out of the hash when at them)
LATER_FIELDS: dict[str, Any] = {"held_out_n": None, "nll_weight": 0.0}


def run(recipe: Recipe, progress: bool = True) -> str:
    """Stage 3 from `recipe`; returns the per-iteration summary table."""
    from bolt_eval.training.autoeval import evaluate_checkpoint
    from bolt_eval.training.checkpoints import fingerprint
    from bolt_eval.training.rewards import build_reward
    from bolt_eval.training.sources import load_queries

    cfg = recipe.section("online")
    if cfg.algorithm == "ppo":  # a classifier ORM and trl's PPOTrainer (here or in .nox/ppo), or the fix
        from bolt_eval.training.policy_ppo import preflight

        preflight(recipe)
    if not cfg.prompts:
        raise UserError(f"{recipe.source}: online.prompts is empty; name the prompt files (see "
                        "training/recipes/tiny-cpu.yaml)")
    init = initial_model(recipe)
    queries, sources = load_queries(cfg.prompts)
    held_out, held_sources = load_queries(cfg.held_out) if cfg.held_out else ([], [])
    # fields added later are left out at their defaults, so stage-3 folders made before them still match
    unset = {k for k, default in LATER_FIELDS.items() if getattr(cfg, k) == default}
    reward_model = build_reward(recipe)
    # the reward as it resolves: weights fingerprints, template contents, format rules (not the recipe's words)
    described = reward_model.describe()
    config = {"online": cfg.model_dump(exclude={"iterations", *unset}), "init": str(init), "init_fingerprint": fingerprint(init),
              "reward": described, "thoughts": recipe.thoughts, "seed": recipe.seed,
              "sources": sources, "held_out_sources": held_sources}
    # iterations are keyed without the count (a finished run can be extended); the stage with it
    stage = StageDir(recipe, STAGE, {**config, "iterations": cfg.iterations})
    if stage.finished():
        old = stage.previous() or {}
        return "online: complete with this configuration, skipped\n" + \
            summary_table({int(k): v for k, v in (old.get("held_out_reward") or {}).items()}, old["iterations"])
    key = config_hash(config)
    _refuse_other_config(stage, key)
    if not any(stage.dir.glob("iter-*")) and not (stage.dir / "held-out").exists():
        retire_stage(recipe.out, STAGE, "stage 3 starts over")  # an earlier stage 3's iterations are gone
    with stage:
        stage.manifest.update(init=str(init), reward_model=described, iterations=[])
        stage.write_manifest()
        try:
            reward_model.preflight()  # a reward model that cannot load fails before any sampling
            held = {0: held_out_reward(stage.dir, held_out, init, cfg, reward_model, recipe.seed, 0, progress)}
            if recipe.eval.mode == "inline":
                evaluate_checkpoint(recipe, init, stage="sft", iteration=None, progress=progress)
            rows = []
            for i in range(1, cfg.iterations + 1):
                it = Iteration(recipe, stage, key, i, init, queries, held_out, reward_model, progress)
                rows.append(it.run())
                held[i] = rows[-1]["held_out_reward"]
                stage.manifest.update(iterations=rows, held_out_reward=held)
                stage.write_manifest()
        finally:
            reward_model.close()
        stage.finish(iterations=rows, held_out_reward=held)
    return summary_table(held, rows)


def initial_model(recipe: Recipe) -> Path:
    from bolt_eval.models import resolve
    from bolt_eval.training.recipe import resolve_model

    cfg = recipe.online
    path = recipe.out / "sft" / "final"
    sft_manifest = recipe.out / "sft" / "manifest.json"
    if not cfg.init:  # the SFT stage's model, once that stage says it is complete
        sft = read_manifest(sft_manifest.parent)
        if sft.get("status") != "complete":
            said = f" says {sft.get('status')!r}" if sft else ": no such file"
            raise UserError(f"{sft_manifest}{said}, so {path} is not a finished SFT model: run "
                            f"`bolt-eval train sft --recipe {recipe.source}` to the end first, or set online.init "
                            "to an SFT model folder")
        path = Path(sft.get("served") or path)  # a LoRA SFT's final/ is an adapter: start from the merged model
    else:  # a folder, or 'default' (the embedded model, for trying stage 3 alone)
        source = resolve(resolve_model(cfg.init))
        if source.kind != "local":
            raise UserError(f"{recipe.source}: online.init {cfg.init!r} is not a model folder; stage 3 trains a "
                            "local transformers checkpoint (download or convert it first)")
        path = Path(source.location)
    if not (path / "config.json").is_file():
        raise UserError(f"{recipe.source}: stage 3 starts from {path}, which holds no model: run "
                        f"`bolt-eval train sft --recipe {recipe.source}` first, or set online.init to an SFT model folder")
    return path


def _refuse_other_config(stage: StageDir, key: str) -> None:
    """Samples, rewards and models on disk were made under the stage manifest's config:
    under another one (iteration count aside) they must not be reused."""
    old = stage.previous()
    made = sorted(stage.dir.glob("iter-*")) + sorted(stage.dir.glob("held-out"))
    if old is None or not made:
        return
    if config_hash({k: v for k, v in old.get("config", {}).items() if k != "iterations"}) != key:
        raise UserError(f"{made[0]} was made with another stage-3 configuration (the recipe's online, reward or "
                        f"init changed, the reward model's files, or the prompt files; or an older bolt-eval made "
                        f"it, which keyed the reward by the recipe's words): remove {stage.dir} to start stage 3 "
                        "over, or set another output_dir")


def summary_table(held: dict[int, Any], rows: list[dict[str, Any]]) -> str:
    """One row per iteration: pairs and drops, the training prompts' sample reward, the DPO
    margin at the last logged step, the held-out reward with its paired change from the
    iteration before [95% CI], and each phase's seconds."""
    def num(v: Any) -> str:
        return "-" if v is None else f"{v:.3f}"

    def delta(d: Any) -> str:
        return "-" if not d else f"{d['mean']:+.3f} [{d['lo']:+.3f}, {d['hi']:+.3f}]"

    phases = ("sampling", "scoring", "training", "held_out", "evaluation")
    lines = ["| iteration | algorithm | pairs | all equal | too few valid | failed rewards | sample reward | "
             "margin (last step) | held-out reward | held-out Δ vs previous | seconds: " + " / ".join(phases) + " |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    h0 = held.get(0)
    lines.append(f"| 0 (start) | - | - | - | - | - | - | - | {num(h0 and h0['reward']['mean'])} | - | - |")
    for r in rows:
        p = r.get("pairs", {})
        dropped = p.get("dropped", {})
        sample_mean = r.get("reward", {}).get("mean", r.get("training", {}).get("reward"))
        margin = r.get("training", {}).get("last", {}).get("rewards/margins")
        h = r.get("held_out_reward")
        seconds = " / ".join(f"{r['seconds'][k]:.0f}" if k in r["seconds"] else "-" for k in phases)
        lines.append(f"| {r['iteration']} | {r['algorithm']} | {p.get('pairs', '-')} | {dropped.get('all_equal', '-')} | "
                     f"{dropped.get('too_few_valid', '-')} | {r.get('reward', {}).get('failed', '-')} | "
                     f"{num(sample_mean)} | {num(margin)} | {num(h and h['reward']['mean'])} | "
                     f"{delta(h and h.get('delta_vs_previous'))} | {seconds} |")
    return "\n".join(lines)
