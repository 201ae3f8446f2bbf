"""A sequence-classification reward model (an ORM such as Skywork-Reward or ArmoRM) through
transformers: `AutoModelForSequenceClassification` with one output, scoring [user prompt,
assistant solution] rendered by the reward model's own chat template.

Items are tokenized, sorted by length and scored `batch_size` at a time, right-padded with
an attention mask, so a batch gives each item the score it gets alone. A conversation
longer than `max_length` (or the model's context) loses tokens from the left of the
prompt, and the item notes how many; a solution that does not fit even with an empty
prompt is not scored (a failure: a reward of text the model never saw would be a guess).
Model code from the hub runs only when the recipe's `model.trust_remote_code` is true
(ArmoRM needs it; its output is an object with `.score`, read instead of the logits).
"""

from __future__ import annotations

import math
import pickle
from typing import Any

from bolt_eval import models
from bolt_eval.training.recipe import RewardComponent
from bolt_eval.training.rewards.base import Component, Part, RewardItem
from bolt_eval.types import UserError


class ClassifierReward(Component):
    kind = "classifier"

    def __init__(self, name: str, weight: float, comp: RewardComponent, place: str) -> None:
        super().__init__(name, weight)
        if comp.model is None:
            raise UserError(f"{place}: key 'model' missing: a classifier reward needs the reward model, "
                            "e.g. model: {model: Skywork/Skywork-Reward-Llama-3.1-8B-v0.2}")
        self.place = f"{place}: model {comp.model.model}"
        self.spec = comp.model.spec()
        try:
            self.source = models.resolve(self.spec.model, self.spec.revision)
        except UserError as err:
            raise UserError(f"{place}: {err}") from err
        self.max_length = comp.max_length  # as the recipe says (recorded)
        self.limit = comp.max_length  # within the model's context too, once it is loaded
        self.batch_size = comp.batch_size
        self.model: Any = None
        self.tokenizer: Any = None
        self.device = "cpu"

    def settings(self) -> dict[str, Any]:
        return {"model": models.describe_source(self.source), "dtype": self.spec.dtype or "auto",
                "trust_remote_code": self.spec.trust_remote_code, "max_length": self.max_length}

    def preflight(self) -> None:
        """Load the model (once): a model that cannot serve as a reward model fails here."""
        if self.model is None:
            self.model, self.tokenizer, self.device = _load(self.spec, self.source, self.place)
            context = getattr(self.model.config, "max_position_embeddings", None)
            self.limit = min(self.max_length, context or self.max_length)

    def score(self, items: list[RewardItem], solutions: list[str]) -> list[Part]:
        import torch

        self.preflight()
        parts: list[Part | None] = [None] * len(items)
        encoded: list[tuple[int, list[int]]] = []
        for i, (item, solution) in enumerate(zip(items, solutions)):
            ids, cut = self._encode(item.prompt, solution)
            if ids is None:
                parts[i] = Part(None, f"the solution alone is over max_length {self.limit} tokens")
            else:
                encoded.append((i, ids))
                parts[i] = Part(None, note={"prompt_tokens_cut": cut} if cut else None)
        encoded.sort(key=lambda e: len(e[1]))
        for start in range(0, len(encoded), self.batch_size):
            batch = encoded[start:start + self.batch_size]
            padded = self.tokenizer.pad({"input_ids": [ids for _, ids in batch]}, padding=True, return_tensors="pt")
            message = ""
            try:
                with torch.inference_mode():
                    out = self.model(input_ids=padded["input_ids"].to(self.device),
                                     attention_mask=padded["attention_mask"].to(self.device))
                values = _scores(out, len(batch))
            except RuntimeError as err:  # CUDA out of memory, a device-side assert: these items fail
                values = [None] * len(batch)
                message = f"{type(err).__name__}: {str(err).splitlines()[0][:200]}"
            for (i, _), v in zip(batch, values):
                note = parts[i].note  # type: ignore[union-attr]
                if v is None:
                    parts[i] = Part(None, f"model error ({message})", note)
                elif math.isnan(v):
                    parts[i] = Part(None, "the model returned NaN", note)
                else:
                    parts[i] = Part(v, None, note)
        return parts  # type: ignore[return-value]

    def _encode(self, prompt: str, solution: str) -> tuple[list[int] | None, int]:
        """Token ids of the conversation within max_length, and the prompt tokens cut."""
        ids = self._ids(prompt, solution)
        if len(ids) <= self.limit:
            return ids, 0
        prompt_ids = self.tokenizer(prompt, add_special_tokens=False)["input_ids"]
        cut = 0
        while cut < len(prompt_ids):  # re-tokenizing at the cut can merge differently: check, cut more
            cut = min(cut + len(ids) - self.limit, len(prompt_ids))
            ids = self._ids(self.tokenizer.decode(prompt_ids[cut:]), solution)
            if len(ids) <= self.limit:
                return ids, cut
        return None, 0

    def _ids(self, prompt: str, solution: str) -> list[int]:
        text = self.tokenizer.apply_chat_template(
            [{"role": "user", "content": prompt}, {"role": "assistant", "content": solution}], tokenize=False)
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def close(self) -> None:
        self.model = self.tokenizer = None


def _scores(out: Any, n: int) -> list[float]:
    """One float per row: ArmoRM-style `.score`, else the single logit."""
    score = getattr(out, "score", None)
    values = score if score is not None else out.logits
    return [float(v) for v in values.float().reshape(n, -1)[:, 0].cpu()]


def _load(spec: Any, source: models.ModelSource, place: str) -> tuple[Any, Any, str]:
    """(model, tokenizer, device), or a UserError naming the model and the fix. As the hf
    backend: hub weights only as safetensors, a local .bin read with weights_only."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    device = spec.device or ("cuda" if torch.cuda.is_available() else "cpu")
    dtype = spec.dtype or ("bfloat16" if device.startswith("cuda") else "float32")
    kwargs: dict[str, Any] = {"revision": source.revision, "trust_remote_code": spec.trust_remote_code}
    try:
        tokenizer = AutoTokenizer.from_pretrained(source.load_from, **kwargs)
        if not tokenizer.chat_template:
            raise UserError(f"{place}: its tokenizer has no chat template, and a reward model scores a conversation "
                            "in its own template; use a reward model that ships one (tokenizer_config.json)")
        model, info = AutoModelForSequenceClassification.from_pretrained(
            source.load_from, dtype=getattr(torch, dtype), use_safetensors=True if source.kind == "hub" else None,
            output_loading_info=True, **kwargs)
    except (OSError, ValueError, KeyError) as err:
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        if "trust_remote_code" in str(err):
            raise UserError(f"{place} needs its own Python code to load (ArmoRM does): read that code, then set "
                            "trust_remote_code: true under the component's model if you trust it") from err
        raise UserError(f"{place} could not be loaded as a sequence classifier: {first.rstrip('.: ')}. Check the id "
                        "and revision; offline, give a local checkpoint folder") from err
    except pickle.UnpicklingError as err:
        raise UserError(f"{place}: its .bin weights hold more than tensors; convert it to safetensors") from err
    head = [k for k in info.get("missing_keys", []) if k.split(".")[0] in ("score", "classifier", "regression_layer")]
    if head:
        raise UserError(f"{place} is not a reward model: its checkpoint has no classification head ({head[0]} would "
                        "be random); give a model trained as a reward model (num_labels=1)")
    if model.config.num_labels != 1 and not spec.trust_remote_code:
        raise UserError(f"{place} has num_labels={model.config.num_labels}; a reward model has one output")
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if model.config.pad_token_id is None:
        model.config.pad_token_id = tokenizer.pad_token_id
    tokenizer.padding_side = "right"
    return model.to(device).eval(), tokenizer, device
