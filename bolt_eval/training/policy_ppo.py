"""Stage 3 by PPO: trl's own PPOTrainer, from trl 1.12.0 in an environment of its own.

BOLT's Table 3 (Pang et al., arXiv 2502.03860, Section 4.6) trains stage 3 with PPO too.
trl 1.16 (the project's pin) has no PPOTrainer: it lived in `trl.experimental.ppo` up to
trl 1.12.0 and left trl in 1.13. A home-made PPO would be no reference, so PPO runs
trl 1.12.0's `PPOTrainer` (Ziegler et al. 2019 / the N+ implementation details of Huang et
al. 2024) as it is. Where this environment's trl has no PPOTrainer, the training step runs
in `.nox/ppo` (built by `nox -s ppo --install-only`: constraints.txt with trl==1.12.0) as
`.nox/ppo/bin/python -m bolt_eval.training.policy_ppo SPEC` on the same working tree;
sampling the held-out prompts, rewarding and evaluating stay in the main environment.

What trl's PPO takes, and so what a PPO recipe must give:
- the reward is a reward MODEL, not a function: the recipe's reward is exactly one
  `classifier` component (weight 1). trl feeds it the policy's token ids of prompt +
  whole response (thoughts included) in the policy's chat template, and reads its `score`
  head at the last token: the classifier must share the policy's vocabulary and be a
  transformers `*ForSequenceClassification` (ArmoRM's custom head is not one). The held-out
  reward (online.py) still scores the external solution in the reward model's own template.
- the value model starts from the reward model, as trl's examples/scripts/ppo/ppo.py does
  (a copy loaded again, then trained); the KL reference is online.py's (the SFT model or
  the previous policy), the policy the previous iteration's model.
- recipe -> PPOConfig: learning_rate, batch_size, gradient_accumulation_steps (one rollout
  batch = their product; one PPO update per batch), beta -> kl_coef, temperature,
  max_new_tokens -> response_length, epochs -> passes over the iteration's prompts, each
  prompt repeated `n` times (the same number of samples per prompt as dpo/rloo);
  num_ppo_epochs, cliprange, vf_coef, gamma, lam stay trl's defaults (recorded). trl
  samples with top_p 1.0 only; `stop_token="eos"` cuts each response at the tokenizer's
  eos (the saved model keeps its own generation_config).
- trl's PPOTrainer.train() cannot resume: a killed iteration trains again from its
  start; a finished one (its `final/` written whole) is never trained again.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from bolt_eval.types import UserError

ROOT = Path(__file__).resolve().parents[2]
PPO_ENV = ROOT / ".nox" / "ppo"
BUILD = "nox -s ppo --install-only"
PAD_CANDIDATES = ("<|finetune_right_pad_id|>", "<|endoftext|>", "<pad>", "[PAD]")  # Llama 3.1, ChatML/Qwen, T5, BERT


def ppo_python() -> str:
    """The python that runs trl's PPOTrainer: this one if its trl has it, else .nox/ppo's."""
    if trl_has_ppo():
        return sys.executable
    python = PPO_ENV / "bin" / "python"
    if python.is_file():
        return str(python)
    raise UserError(f"online.algorithm: ppo runs trl's PPOTrainer, which trl 1.16 no longer has; build its environment "
                    f"(trl 1.12.0, the project's other pins) once in {ROOT}: `{BUILD}` (a few minutes), then run "
                    "this again. Or choose online.algorithm: dpo, rloo or reinforce")


def trl_has_ppo() -> bool:
    """Whether this environment's trl ships trl.experimental.ppo (looked up without importing trl)."""
    spec = importlib.util.find_spec("trl")
    return bool(spec) and any((Path(p) / "experimental" / "ppo" / "ppo_trainer.py").is_file()
                              for p in spec.submodule_search_locations or [])


def preflight(recipe: Any) -> str:
    """Refuse a PPO recipe trl cannot run, before any sampling; returns ppo_python()."""
    reward = recipe.section("reward")
    for i, comp in enumerate(reward):
        if comp.kind != "classifier":
            raise UserError(f"{recipe.source}: reward[{i}] is a {comp.kind} reward; trl's PPOTrainer takes one reward "
                            "model (a sequence classifier), not a reward function: give the PPO recipe a single "
                            "`kind: classifier` reward, or choose online.algorithm: rloo or reinforce (any reward)")
    if len(reward) != 1 or reward[0].weight != 1.0:
        raise UserError(f"{recipe.source}: reward: trl's PPOTrainer uses one reward model's raw score; give exactly "
                        "one classifier component with weight 1.0")
    if recipe.online.top_p != 1.0:
        raise UserError(f"{recipe.source}: online.top_p is {recipe.online.top_p}; trl's PPOTrainer samples with "
                        "top_p 1.0 only: set online.top_p: 1.0")
    return ppo_python()


def train_ppo(policy: Path, reference: Path, prompts: list[str], recipe: Any, work: Path, final: Path,
              progress: bool = True) -> dict[str, Any]:
    """One PPO pass over `prompts` from `policy` (KL to `reference`), the model into `final`.
    Returns {"log_history", "trainer_args", "environment"} from the process that trained."""
    python = preflight(recipe)
    work.mkdir(parents=True, exist_ok=True)
    spec = {"policy": str(policy), "reference": str(reference), "prompts": prompts,
            "reward": recipe.reward[0].model_dump(mode="json"), "place": f"{recipe.source}: reward[0] (classifier)",
            "settings": recipe.online.model_dump(mode="json"), "seed": recipe.seed, "progress": progress,
            "work": str(work), "final": str(final)}
    spec_path, result_path, error_path = work / "ppo-spec.json", work / "ppo-result.json", work / "ppo-error.txt"
    spec_path.write_text(json.dumps(spec, indent=1), encoding="utf-8")
    result_path.unlink(missing_ok=True)
    error_path.unlink(missing_ok=True)
    if python == sys.executable:
        return _train(spec)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
               TRL_EXPERIMENTAL_SILENCE="1")
    done = subprocess.run([python, "-m", "bolt_eval.training.policy_ppo", str(spec_path)], env=env, check=False)
    if error_path.is_file():
        raise UserError(error_path.read_text(encoding="utf-8"))
    if done.returncode != 0 or not result_path.is_file():
        raise RuntimeError(f"PPO training with {python} failed (exit {done.returncode}); its output is above. "
                           f"The step's input is {spec_path}")
    return json.loads(result_path.read_text(encoding="utf-8"))


def _train(spec: dict[str, Any]) -> dict[str, Any]:
    """Runs in a python whose trl has PPOTrainer; writes ppo-result.json beside the spec."""
    import torch
    import trl
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification, AutoTokenizer
    from trl.experimental.ppo import PPOConfig, PPOTrainer

    from bolt_eval.store import write_atomic
    from bolt_eval.training.policy_rl import trainer_args
    from bolt_eval.training.recipe import OnlineConfig, RewardComponent
    from bolt_eval.training.rewards.classifier import ClassifierReward

    settings = OnlineConfig.model_validate(spec["settings"])
    policy, work, final = Path(spec["policy"]), Path(spec["work"]), Path(spec["final"])
    common = trainer_args(settings, work, spec["seed"], spec["progress"])
    common.update(save_strategy="no", gradient_checkpointing=settings.gradient_checkpointing)  # no resume in trl's PPO
    args = PPOConfig(**common, kl_coef=settings.beta, temperature=settings.temperature,
                     response_length=settings.max_new_tokens, stop_token="eos", num_sample_generations=0)
    dtype = torch.bfloat16 if args.bf16 else torch.float32
    tokenizer = AutoTokenizer.from_pretrained(policy, padding_side="left")
    pad = _distinct_pad(tokenizer, policy)

    orm = ClassifierReward("classifier", 1.0, RewardComponent.model_validate(spec["reward"]), spec["place"])
    orm.preflight()  # loads it with the checks the other algorithms get (a head, one output, safetensors)
    rm_vocab = orm.tokenizer.get_vocab()  # the RM may add tokens (a pad); every policy id must mean the same
    differ = [t for t, i in tokenizer.get_vocab().items() if rm_vocab.get(t) != i]
    if differ:
        raise UserError(f"{spec['place']}: its tokenizer differs from the policy's ({policy}; {len(differ)} tokens, "
                        f"e.g. {differ[0]!r}); trl's PPOTrainer feeds the reward model the policy's token ids, so PPO "
                        "needs a reward model trained on the policy's tokenizer")
    if not hasattr(orm.model, "score") or not hasattr(orm.model, orm.model.base_model_prefix):
        raise UserError(f"{spec['place']}: trl's PPOTrainer reads a reward model's backbone and its `score` head (a "
                        "transformers *ForSequenceClassification); this model has none: use one such as "
                        "Skywork/Skywork-Reward-Llama-3.1-8B-v0.2")
    source = orm.source
    value = AutoModelForSequenceClassification.from_pretrained(  # trl's examples: the value model from the RM
        source.load_from, revision=source.revision, num_labels=1, dtype=dtype,
        trust_remote_code=orm.spec.trust_remote_code)
    model = AutoModelForCausalLM.from_pretrained(policy, dtype=dtype)
    ref_model = AutoModelForCausalLM.from_pretrained(spec["reference"], dtype=dtype)
    own_eos = model.generation_config.eos_token_id  # trl overwrites it with the tokenizer's eos
    shutil.rmtree(final.with_name(final.name + ".partial"), ignore_errors=True)  # a killed run's half-written save

    rows = [{"input_ids": _prompt_ids(tokenizer, p)} for p in spec["prompts"] for _ in range(settings.n)]
    per_batch = settings.batch_size * settings.gradient_accumulation_steps
    if len(rows) < per_batch:
        raise UserError(f"online: {len(spec['prompts'])} prompts x n {settings.n} = {len(rows)} rollouts, fewer than "
                        f"one PPO batch (batch_size x gradient_accumulation_steps = {per_batch}): lower "
                        "online.batch_size or add prompts")
    trainer = PPOTrainer(args=args, processing_class=tokenizer, model=model, ref_model=ref_model,
                         reward_model=orm.model, value_model=value, train_dataset=Dataset.from_list(rows))
    with contextlib.redirect_stdout(sys.stderr):  # trl prints its logs: keep stdout for results
        trainer.train()
    model.generation_config.eos_token_id = own_eos
    model.config._name_or_path = str(final)
    keep = ("num_train_epochs", "learning_rate", "per_device_train_batch_size", "gradient_accumulation_steps",
            "lr_scheduler_type", "kl_coef", "kl_estimator", "num_ppo_epochs", "num_mini_batches", "cliprange",
            "cliprange_value", "vf_coef", "gamma", "lam", "whiten_rewards", "temperature", "response_length",
            "total_episodes", "num_total_batches", "seed", "bf16", "use_cpu")
    result = {"log_history": trainer.state.log_history,
              "trainer_args": {"class": "trl.experimental.ppo.PPOConfig",
                               **{k: _plain(getattr(args, k)) for k in keep if hasattr(args, k)}},
              "environment": {"python": sys.executable, "trl": trl.__version__, "pad_token": pad,
                              "value_model_from": "reward model", "rollouts": len(rows)}}
    partial = final.with_name(final.name + ".partial")
    trainer.save_model(str(partial))  # on every rank (ZeRO-3 gathers the weights); trl saves the policy only
    if trainer.accelerator.is_main_process:
        tokenizer.save_pretrained(str(partial))
        shutil.rmtree(final, ignore_errors=True)
        partial.rename(final)  # whole or not at all
        write_atomic(work / "ppo-result.json", json.dumps(result, indent=1, default=str))  # whole or absent
    trainer.accelerator.wait_for_everyone()
    return result


def _plain(value: Any) -> Any:
    return value if isinstance(value, (int, float, str, bool, type(None))) else str(value)


def _distinct_pad(tokenizer: Any, policy: Path) -> str:
    """trl's PPO takes every pad id for padding (attention masks, response ends): a pad equal
    to eos would erase the eos tokens of prompts and responses. Keep a distinct pad token,
    else take the first known pad-like token the vocabulary has."""
    if tokenizer.pad_token is not None and tokenizer.pad_token_id != tokenizer.eos_token_id:
        return tokenizer.pad_token
    vocab = tokenizer.get_vocab()
    for token in PAD_CANDIDATES:
        if token in vocab and vocab[token] != tokenizer.eos_token_id:
            tokenizer.pad_token = token
            return token
    raise UserError(f"{policy}: the tokenizer's pad token is {tokenizer.pad_token!r} (the eos token, or none), and "
                    "trl's PPO treats every pad id as padding; set a distinct pad_token in "
                    f"{policy}/tokenizer_config.json (one of the vocabulary's unused special tokens)")


def _prompt_ids(tokenizer: Any, prompt: str) -> list[int]:
    text = tokenizer.apply_chat_template([{"role": "user", "content": prompt}], tokenize=False,
                                         add_generation_prompt=True)
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def main(argv: list[str]) -> int:
    """`python -m bolt_eval.training.policy_ppo SPEC`: the PPO step of train_ppo, in .nox/ppo."""
    spec_path = Path(argv[0])
    try:
        _train(json.loads(spec_path.read_text(encoding="utf-8")))
    except UserError as err:  # reported by the parent as its own UserError
        (spec_path.parent / "ppo-error.txt").write_text(str(err), encoding="utf-8")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
