"""`hf` backend: transformers generation, batched, with the model's own chat template.

Requests are grouped by sampling params, sorted by prompt length (less padding) and
generated in batches with left padding, decoding into a KV cache written in place
(backends/hf_cache.py). Each prompt is prefilled alone, without its padding, and its KV
cache copied into the batch's (n times for `n` sampled answers: generate alone would
prefill every copy and every pad). A
request's `followup` (a judge's allowed verdicts) is scored on the batch's cache right
after its reply (backends/hf_choices.py). A prompt longer than the model's
context (`max_position_embeddings`) fails or is cut from the left, as `--context-policy`
says (backends/context.py). torch and transformers are imported only when a model is loaded.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import time
from dataclasses import replace
from typing import Any

from bolt_eval import models
from bolt_eval.backends.base import Backend, ChoiceRequest, Progress, local_identity, truncate_at_stop
from bolt_eval.backends.context import check_policy, overflow, room
from bolt_eval.backends.hf_choices import Tokens, score_after_generate, score_context
from bolt_eval.registry import backends
from bolt_eval.types import Completion, Request, SamplingParams, UserError

PREFILL_CHUNK = 256  # tokens a prefill forward: attention scores for the default model at 1750 tokens, 16 MB


def load_model(spec: Any) -> tuple[Any, Any, dict[str, Any]]:
    """Load (model, tokenizer, provenance) for a BackendSpec; errors name the fix.

    No code comes with the weights: model code from the hub runs only with
    --trust-remote-code, hub weights load only from safetensors, and a local .bin is read by
    transformers' torch.load(weights_only=True), which refuses anything but tensors."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    source = models.resolve(spec.model, spec.revision)
    device = spec.device or ("cuda" if torch.cuda.is_available() else "cpu")
    dtype_name = spec.dtype or ("bfloat16" if device.startswith("cuda") else "float32")
    kwargs: dict[str, Any] = {"revision": source.revision, "trust_remote_code": spec.trust_remote_code}
    if source.gguf_file:
        kwargs["gguf_file"] = source.gguf_file
    try:
        tokenizer = AutoTokenizer.from_pretrained(source.load_from, **kwargs)
        if not tokenizer.chat_template:  # known before the weights are loaded
            raise UserError(
                f"--model {spec.model}: its tokenizer has no chat template, so conversations "
                "cannot be formatted. Use an instruct/chat checkpoint, or add a chat_template "
                "to its tokenizer_config.json"
            )
        model = AutoModelForCausalLM.from_pretrained(
            source.load_from, dtype=getattr(torch, dtype_name), use_safetensors=True if source.kind == "hub" else None,
            **kwargs
        )
    except (OSError, ValueError) as err:
        what, first = f"--model {spec.model} (revision {source.revision or 'main'})", str(err).strip().splitlines()[0]
        if "trust_remote_code" in str(err):
            raise UserError(
                f"--model {spec.model} needs its own Python code to load, and bolt-eval runs none unless told: "
                "read that code, then pass --trust-remote-code if you trust it"
            ) from err
        if source.kind == "hub" and "safetensors" in first:
            raise UserError(
                f"{what} has no safetensors weights, and bolt-eval loads weights made by others only as "
                "safetensors (.bin files are pickles): choose a revision that has them, or convert a copy you "
                "trust and pass its folder"
            ) from err
        raise UserError(
            f"{what} could not be loaded: {first.rstrip('.: ')}. Check the id and revision; offline, pass a local "
            "checkpoint folder or pre-download the model into the Hugging Face cache"
        ) from err
    except pickle.UnpicklingError as err:
        raise UserError(
            f"--model {spec.model}: its .bin weights hold more than tensors (they are read with "
            "torch.load(weights_only=True), which runs no code): convert the checkpoint to safetensors"
        ) from err
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model.to(device).eval()
    commit = getattr(model.config, "_commit_hash", None)
    provenance = {
        "model": models.describe_source(source, commit),
        "dtype": dtype_name,
        "chat_template_sha256": hashlib.sha256(tokenizer.chat_template.encode()).hexdigest(),
    }
    return model, tokenizer, provenance


@backends.register("hf")
class HFBackend(Backend):
    can_choose = can_score = can_follow_up = True

    def __init__(self, spec: Any) -> None:
        super().__init__(spec)
        self.policy = check_policy(spec.context_policy)
        self.model, self.tokenizer, self._provenance = load_model(spec)
        self.context = getattr(self.model.config, "max_position_embeddings", None)

    @classmethod
    def identity(cls, spec: Any) -> dict[str, Any]:
        return local_identity("hf", spec)

    def describe(self) -> dict[str, Any]:
        return {"backend": "hf", **self._provenance}

    def close(self) -> None:
        self.model = None

    def generate(self, requests: list[Request], progress: Progress | None = None) -> list[list[Completion]]:
        results: list[list[Completion] | None] = [None] * len(requests)
        groups: dict[str, list[int]] = {}
        for i, r in enumerate(requests):
            groups.setdefault(json.dumps(r.params.to_dict(), sort_keys=True), []).append(i)
        for indices in groups.values():
            params = requests[indices[0]].params
            prompts = {i: self._render(requests[i]) for i in indices}
            for i in list(prompts):
                n_tokens = len(self.tokenizer(prompts[i], add_special_tokens=False)["input_ids"])
                if error := overflow(requests[i], n_tokens, self.context, self.policy):
                    results[i] = [Completion.failed(error)] * params.n
                    del prompts[i]
            if progress and len(prompts) < len(indices):
                progress(len(indices) - len(prompts))
            order = sorted(prompts, key=lambda i: -len(prompts[i]))
            for start in range(0, len(order), self.spec.batch_size):
                batch = order[start:start + self.spec.batch_size]
                outs = self._generate_batch([prompts[i] for i in batch], params, start,
                                            [requests[i].followup for i in batch])
                for i, completions in zip(batch, outs):
                    results[i] = completions
                if progress:
                    progress(len(batch))
        return [r for r in results if r is not None]

    def _render(self, request: Request | ChoiceRequest) -> str:
        return self.tokenizer.apply_chat_template(
            list(request.messages), tokenize=False, add_generation_prompt=True
        )

    def score_choices(self, requests: list[ChoiceRequest]) -> list[list[float]]:
        """Each choice's log-likelihood after the rendered conversation + the reply, the way
        lm-eval scores a continuation (the whole text is tokenized, and the tokens past the
        context's are the choice's). The shared context runs once; each choice continues
        from a copy of its KV cache."""
        return [self._score(self._render(r) + r.reply, r.choices) for r in requests]

    def _score(self, context: str, choices: tuple[str, ...]) -> list[float]:
        tokens = Tokens.of(self.tokenizer, context, choices)
        longest = tokens.longest
        cut = max(0, longest - self.context) if self.context else 0  # from the left
        if tokens.fed - cut < 1:
            raise UserError(f"a judge verdict cannot be scored: the context leaves no room for it "
                            f"({longest} tokens, the model takes {self.context})")
        return score_context(self.model, tokens, cut, self._last_logits_only())

    def _generate_batch(self, prompts: list[str], params: SamplingParams, offset: int,
                        followups: list[tuple[str, tuple[str, ...]] | None]) -> list[list[Completion]]:
        import torch

        from bolt_eval.backends.hf_cache import ReservedLayer, reserved_cache

        tok = self.tokenizer
        enc = tok(prompts, return_tensors="pt", padding=True, add_special_tokens=False).to(self.model.device)
        full_lens = enc["attention_mask"].sum(dim=1).tolist()
        keep = room(self.context, params.max_new_tokens)
        if keep is not None and enc["input_ids"].shape[1] > keep:  # left padding: the last columns hold every prompt's end
            enc = {k: v[:, -keep:] for k, v in enc.items()}
        prompt_lens = enc["attention_mask"].sum(dim=1).tolist()  # what the model sees
        sampling = params.temperature > 0
        per_prompt = params.n if sampling else 1  # greedy samples are all the same: decode once
        kwargs: dict[str, Any] = {
            "max_new_tokens": params.max_new_tokens,
            "do_sample": sampling,
            "num_return_sequences": per_prompt,
            "pad_token_id": tok.pad_token_id,
        }
        if sampling:
            kwargs.update(temperature=params.temperature, top_p=params.top_p)
            torch.manual_seed(params.seed + offset)
        else:
            kwargs.update(temperature=None, top_p=None, top_k=None)
        reserve = params.max_new_tokens + 1 + 64 * any(followups)  # a followup adds a few tokens
        width = enc["input_ids"].shape[1]
        kwargs["past_key_values"] = cache = reserved_cache(self.model.config, reserve, width + reserve)
        if width > 1 and all(isinstance(layer, ReservedLayer) for layer in cache.layers):
            self._prefill(enc, per_prompt, cache)  # row by row, each prompt once for all its samples
            kwargs["num_return_sequences"] = 1
            enc = {k: v.repeat_interleave(per_prompt, dim=0) for k, v in enc.items()}
        if params.stop:
            kwargs.update(stop_strings=list(params.stop), tokenizer=tok)
        follow = per_prompt == 1 and any(followups)
        t0 = time.perf_counter()
        with torch.inference_mode():
            out = self.model.generate(**enc, **kwargs, return_dict_in_generate=follow)
        if follow:
            cache, out = out.past_key_values, out.sequences
        elapsed = time.perf_counter() - t0
        new = out[:, enc["input_ids"].shape[1]:].tolist()
        eos = self._eos_ids()
        per_call = elapsed / max(len(new), 1)
        completions = []
        for row, ids in enumerate(new):
            end = next((j for j, t in enumerate(ids) if t in eos), None)
            used = ids if end is None else ids[:end]
            text, stopped = truncate_at_stop(tok.decode(used, skip_special_tokens=True), params.stop)
            completions.append(Completion(
                text=text,
                prompt_tokens=int(prompt_lens[row // per_prompt]),
                completion_tokens=len(used) + (end is not None),
                finish_reason="stop" if end is not None or stopped else "length",
                latency_s=per_call,
                prompt_cut=int(full_lens[row // per_prompt] - prompt_lens[row // per_prompt]),
            ))
        if follow:
            scored = self._follow_up(enc, cache, new, [p + c.text for p, c in zip(prompts, completions)], followups)
            completions = [replace(c, followup_logprobs=tuple(s)) if s else c for c, s in zip(completions, scored)]
        groups = [completions[k:k + per_prompt] for k in range(0, len(completions), per_prompt)]
        return [g * (params.n // per_prompt) for g in groups]

    def _follow_up(self, enc: dict[str, Any], cache: Any, new: list[list[int]], texts: list[str],
                   followups: list[tuple[str, tuple[str, ...]] | None]) -> list[list[float] | None]:
        """Each followup's choices scored as the continuation of its prompt + reply (`texts`)
        + followup text, on the cache generate left (backends/hf_choices.py)."""
        rows: list[Tokens | None] = []
        for text, followup in zip(texts, followups):
            tokens = Tokens.of(self.tokenizer, text + followup[0], followup[1]) if followup else None
            fits = tokens is not None and not (self.context and tokens.longest > self.context)
            rows.append(tokens if fits else None)
        mask = enc["attention_mask"]
        held = [ids[m.bool()].tolist() + gen for ids, m, gen in zip(enc["input_ids"], mask, new)]
        return score_after_generate(self.model, cache, mask, held, rows, self._last_logits_only())

    def _prefill(self, enc: dict[str, Any], copies: int, cache: Any) -> None:
        """Fill `cache` (backends/hf_cache.py, every layer a `ReservedLayer`) with the keys and
        values of every prompt but its last token (generate feeds that one), each row
        repeated `copies` times.

        Each prompt is prefilled alone, without its padding, `PREFILL_CHUNK` tokens at a
        time, and copied into its rows of the batch's cache at the columns its left padding
        leaves it (the padding's columns hold zeros and are masked out): no forward runs
        over padding, a prompt runs once for all its samples, and attention scores stay
        chunk x prompt for one row."""
        import torch

        from bolt_eval.backends.hf_cache import reserved_cache

        ids, mask = enc["input_ids"][:, :-1], enc["attention_mask"][:, :-1].bool()
        width = ids.shape[1]
        with torch.inference_mode():
            for r, (row, real) in enumerate(zip(ids, mask)):
                tokens = row[real][None]
                if not tokens.shape[1]:
                    continue
                alone = reserved_cache(self.model.config, 0, tokens.shape[1])
                for start in range(0, tokens.shape[1], PREFILL_CHUNK):
                    self.model(input_ids=tokens[:, start:start + PREFILL_CHUNK], past_key_values=alone, use_cache=True,
                               **self._last_logits_only())
                for layer, done in zip(cache.layers, alone.layers):
                    if not layer.is_initialized:  # zeros, broadcast: no second tensor of the batch's size
                        shape = (ids.shape[0] * copies, done.keys.shape[1], width, done.keys.shape[-1])
                        layer.update(done.keys.new_zeros(()).expand(shape), done.values.new_zeros(()).expand(shape))
                    span = slice(r * copies, (r + 1) * copies)
                    layer.keys[span, :, width - tokens.shape[1]:] = done.keys
                    layer.values[span, :, width - tokens.shape[1]:] = done.values

    def _last_logits_only(self) -> dict[str, int]:
        """For a forward run for its KV cache: the logits of the last position only (as
        generate asks), not a vocabulary-wide row per token (1500 tokens: 295 MB, ~20% of
        the forward's time)."""
        return {"logits_to_keep": 1} if self.model._supports_logits_to_keep() else {}

    def _eos_ids(self) -> set[int]:
        ids = self.model.generation_config.eos_token_id
        ids = ids if isinstance(ids, list) else [ids]
        return {i for i in ids + [self.tokenizer.eos_token_id, self.tokenizer.pad_token_id] if i is not None}

