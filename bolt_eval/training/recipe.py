"""Recipes: one flat YAML file per training run, validated by these typed models.

A recipe names the model to train, the evaluation suite every checkpoint is scored on,
and one section per BOLT stage (Pang et al., arXiv 2502.03860): `queries` (curation),
`bootstrap` (stage 1: long-CoT data by in-context learning), `reward` (the outcome reward
model, a weighted sum of components), `sft` (stage 2) and `online` (stage 3). Paper
defaults are the numbers of the paper's text (its published rows: results/reference/
bolt-paper.yaml); a default the paper does not state is marked "ours" beside it.

No includes, no code references: everything a stage does is readable here. Reading a
recipe file (`--set` overrides, errors that name the line) is recipe_file.py.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from bolt_eval.backends.base import BackendSpec
from bolt_eval.types import TASKS_DIR, UserError

REPO_ROOT = TASKS_DIR.parent


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", protected_namespaces=())


class ModelRef(Strict):
    """A model served through the harness's backends (hf, vllm, vllm-serve, openai, replay)."""

    model: str
    backend: str = "hf"
    revision: str | None = None
    base_url: str | None = None
    api_key_env: str = "OPENAI_API_KEY"
    batch_size: int | None = None  # default: 16 (hf), 256 (vllm)
    concurrency: int = 16
    device: str | None = None
    dtype: str | None = None
    trust_remote_code: bool = False
    engine_options: dict[str, Any] = {}

    def spec(self) -> BackendSpec:
        return BackendSpec(
            backend=self.backend, model=resolve_model(self.model), revision=self.revision, base_url=self.base_url,
            api_key_env=self.api_key_env, batch_size=self.batch_size or (256 if self.backend == "vllm" else 16),
            concurrency=self.concurrency, device=self.device, dtype=self.dtype,
            trust_remote_code=self.trust_remote_code, options=dict(self.engine_options))


class DataSource(Strict):
    """Rows from a local JSONL file (`path`) or a hub dataset (`dataset` at `revision`)."""

    path: str | None = None
    dataset: str | None = None
    revision: str | None = None
    config: str | None = None
    split: str = "train"
    field: str | None = None  # the text or `messages` column; default: messages, prompt, instruction, query
    id_field: str | None = None  # default: "id", else source:index
    task: str | None = None  # rows in this benchmark's schema (e.g. zebralogic): its prompt, its scorer as verifier
    limit: int | None = None


class Decontamination(Strict):
    suite: str | None = None  # default: the recipe's evaluation suite
    n: int = 13  # word n-grams (ours: the size GPT-3 and Llama reports used)
    # ours: removed when this share of the query's content n-grams is in one item, or of the item's in the
    # query (training/decontam.py: copies score 1.0, different generated puzzles at most 0.43)
    min_overlap: float = 0.5


class QueriesConfig(Strict):
    sources: list[DataSource]
    judge: ModelRef | None = None  # grades the 7 BenchBuilder criteria and the topic; None: no grading
    min_criteria: int = 5  # paper
    judge_max_new_tokens: int = 256
    topics: dict[str, float] = {}  # target topic mix (shares); empty: keep the graded set as it is
    max_queries: int | None = None
    decontaminate: Decontamination = Decontamination()


class FormatRules(Strict):
    """What a bootstrapped (or sampled) response must be to count as long-CoT."""

    min_thought_chars: int = 1
    max_thought_chars: int | None = None
    min_solution_chars: int = 1
    max_solution_chars: int | None = None
    require_stop: bool = True  # a response cut by the token limit is rejected


class BootstrapConfig(Strict):
    generator: ModelRef
    exemplars: str = "training/exemplars"
    k: int = 3  # paper: 3 of the 10 exemplars per prompt
    n: int = 8  # paper: 8 samples per query
    temperature: float = 1.0  # ours (the paper does not state it)
    top_p: float = 1.0  # ours
    max_new_tokens: int = 4096  # ours
    percentile: float = 30.0  # paper: drop below the 30th percentile of ORM scores
    percentile_scope: Literal["pool", "query"] = "pool"
    format: FormatRules = FormatRules()


class RewardComponent(Strict):
    kind: Literal["classifier", "judge", "verifier", "format"]
    weight: float = 1.0
    model: ModelRef | None = None  # classifier: the reward model; judge: the judge
    template: str | None = None  # judge: a template file (ours by default)
    max_length: int = 4096  # classifier: tokens of prompt + solution
    batch_size: int = 8  # classifier
    max_new_tokens: int = 1024  # judge: tokens of the judge's reply (ours)
    rules: FormatRules | None = None  # format: the rules rewarded (default: bootstrap.format)


class LoraSettings(Strict):
    r: int = 64  # SkyThought
    alpha: int = 128  # SkyThought
    dropout: float = 0.0  # SkyThought
    target_modules: str | list[str] = "all-linear"  # SkyThought: all linear layers


class TrainerSettings(Strict):
    """The trl/transformers training arguments a recipe may set (shared by stages 2 and 3)."""

    epochs: float = 1.0
    learning_rate: float = 2e-5
    batch_size: int = 1  # per device
    gradient_accumulation_steps: int = 1
    scheduler: str = "cosine"
    warmup_ratio: float = 0.1
    weight_decay: float = 0.0
    max_length: int = 2048
    save_steps: int | None = None  # None: one checkpoint per epoch
    logging_steps: int = 10
    device: Literal["auto", "cpu", "cuda"] = "auto"
    bf16: bool | None = None  # None: on CUDA when supported, off on CPU
    gradient_checkpointing: bool = False
    deepspeed: str | None = None  # a DeepSpeed JSON for transformers; unset under accelerate's DeepSpeed config

    @field_validator("warmup_ratio")
    @classmethod
    def _warmup_share(cls, ratio: float) -> float:  # passed as warmup_steps: transformers 5 reads >= 1 as steps
        if not 0.0 <= ratio < 1.0:
            raise ValueError("warmup_ratio is the share of the training steps spent warming up: write a number "
                             "from 0 up to, not including, 1 (0.1 = 10%)")
        return ratio

    @field_validator("deepspeed")
    @classmethod
    def _deepspeed_json(cls, path: str | None) -> str | None:  # transformers json.loads it
        if path is not None and not path.endswith(".json"):
            raise ValueError("deepspeed names a DeepSpeed JSON config; an accelerate config (training/accelerate/"
                             "*.yaml) goes on the launch line, `accelerate launch --config_file ...`: drop this key")
        return path


class SFTConfig(TrainerSettings):
    data: str | None = None  # default: stage 1's sft.jsonl
    method: Literal["full", "lora"] = "full"
    lora: LoraSettings = LoraSettings()
    packing: bool = False


class OnlineConfig(TrainerSettings):
    algorithm: Literal["dpo", "rloo", "reinforce", "ppo"] = "dpo"
    iterations: int = 3  # paper
    prompts: list[DataSource] = []
    prompts_per_iteration: int | None = None
    held_out: list[DataSource] = []  # prompts on which each iteration's mean reward is measured
    n: int = 8  # paper
    held_out_n: int | None = Field(default=None, ge=1)  # samples per held-out prompt (default: n)
    temperature: float = 1.0  # paper
    top_p: float = 1.0  # paper
    max_new_tokens: int = 1024
    beta: float = 0.1  # paper
    nll_weight: float = Field(default=0.0, ge=0.0)  # > 0: + the chosen answers' NLL (RPO); 0: paper
    reference: Literal["sft", "previous"] = "sft"  # paper Eq. 2: the SFT model
    generator: ModelRef | None = None  # backend that samples the policy (default: hf on the checkpoint)
    init: str | None = None  # the SFT model stage 3 starts from (default: <output_dir>/sft/final)
    # TrainerSettings defaults replaced by the paper's online DPO numbers:
    epochs: float = 2.0
    learning_rate: float = 5e-7

    @model_validator(mode="after")
    def _nll_is_dpo(self) -> OnlineConfig:
        if self.nll_weight and self.algorithm != "dpo":
            raise ValueError(f"nll_weight is a term of the DPO loss; algorithm {self.algorithm} has none: remove it")
        return self


class AblationCondition(Strict):
    """One arm of `train ablation`: the base SFT set perturbed by `kind` at `ratio`
    (bolt_eval/training/perturb; `none` leaves it as it is), trained with `method`."""

    kind: str
    ratio: float = 1.0  # the share of numbers / steps / rows the transform touches
    method: Literal["full", "lora"] | None = None  # default: ablation.method, else sft.method

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, kind: str) -> str:
        from bolt_eval.training.perturb import KINDS

        known = ["none", *KINDS]
        if kind not in known:
            close = difflib.get_close_matches(kind, known, n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            raise ValueError(f"unknown perturbation kind; {hint}known: {', '.join(known)}")
        return kind

    @field_validator("ratio")
    @classmethod
    def _share(cls, ratio: float) -> float:
        if not 0.0 <= ratio <= 1.0:
            raise ValueError("ratio is a share: write a number from 0 to 1 (0.7 = 70%)")
        return ratio

    def slug(self) -> str:
        """The condition's folder name and label: `none`, `digits-70`, `shuffle-100-lora`."""
        name = self.kind if self.kind == "none" else f"{self.kind}-{self.ratio * 100:g}"
        return name + (f"-{self.method}" if self.method else "")


class AblationConfig(Strict):
    """`bolt-eval train ablation` ("structure, not content", Li et al., arXiv 2502.07374,
    Table 2): one SFT (the recipe's `sft:` settings) per condition, each evaluated on the
    recipe's `eval:` suite, deltas paired to the first `none` condition."""

    data: str | None = None  # the base long-CoT SFT set (chat JSONL); default: sft.data
    conditions: list[AblationCondition]
    seed: int = 0  # the perturbations' seed (training keeps the recipe's seed)
    method: Literal["full", "lora"] | None = None  # for every condition that names none
    pool: str | None = None  # wrong-answers: stage 1's bootstrap/pool.jsonl, or chat rows with "correct": true/false

    @model_validator(mode="after")
    def _one_baseline_no_twins(self) -> AblationConfig:
        if not any(c.kind == "none" for c in self.conditions):
            raise ValueError("no unperturbed condition to pair the deltas with; add `- {kind: none}` to conditions")
        slugs = [c.slug() for c in self.conditions]
        twins = sorted({s for s in slugs if slugs.count(s) > 1})
        if twins:
            raise ValueError(f"condition {twins[0]} is listed twice; remove one (or give them different ratios/methods)")
        return self


class EvalTask(Strict):
    name: str
    data: str | None = None
    limit: int | None = None


class EvalSettings(Strict):
    suite: str = "smoke"
    tasks: list[EvalTask] = []  # instead of the suite's tasks: own data files (a held-out set, tests)
    backend: str = "hf"
    batch_size: int | None = None
    max_new_tokens: int | None = None
    limit: int | None = None
    judge: ModelRef | None = None  # None: the suite's judge
    mode: Literal["inline", "watch", "off"] = "inline"  # inline: the trainer evaluates each save itself


class Recipe(Strict):
    name: str
    output_dir: str
    seed: int = 0
    model: str  # the model stage 2 starts from ('default', a folder, a hub id)
    revision: str | None = None
    chat_template: str | None = None  # for base models: the template file SFT teaches and evaluation uses
    thoughts: str = "bolt"
    eval: EvalSettings = EvalSettings()
    queries: QueriesConfig | None = None
    bootstrap: BootstrapConfig | None = None
    reward: list[RewardComponent] = []
    sft: SFTConfig | None = None
    online: OnlineConfig | None = None
    ablation: AblationConfig | None = None
    # filled by load_recipe, never by the file:
    source: str = Field(default="", exclude=True)
    overrides: list[str] = Field(default=[], exclude=True)

    @property
    def out(self) -> Path:
        return Path(self.output_dir)

    def section(self, name: str) -> Any:
        value = getattr(self, name)
        if value is None or value == []:
            raise UserError(f"{self.source}: the recipe has no '{name}' section; add one "
                            f"(see training/recipes/tiny-cpu.yaml)")
        return value


def resolve_path(path: str) -> Path:
    """A recipe's relative path: from the current directory, else from bolt-eval's own
    repository (where the shipped exemplars and query sets live)."""
    p = Path(path).expanduser()
    if p.is_absolute() or p.exists() or not (REPO_ROOT / p).exists():
        return p
    return REPO_ROOT / p


def resolve_model(model: str) -> str:
    """'default', a hub id or an API name stay; a relative folder that exists resolves."""
    if model == "default" or "/" not in model and not Path(model).exists():
        return model
    p = resolve_path(model)
    return str(p.resolve()) if p.exists() else model
