"""Shared set-up of the training cases (training_*.py): small models built offline, as the
tests' fixtures build them (tests/conftest.py), and chat data in the long-CoT format.

A 4-layer Llama (hidden 128) with a byte-level BPE (2000 tokens) trained on the stage-1
exemplars and the ZebraLogic smoke puzzles, so the training prompts take about one token per
3-4 characters (a 300-token BPE spent one per byte and overflowed the context): random
weights, real architecture and tokenizer, a ChatML template; its steps take tens of
milliseconds on one core, so a case runs in minutes and still shows any per-step overhead.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]

CHATML = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
ANSWER = ("<internal_thoughts>Solve {a}+{b} step by step: first {a}, then add {b}. Wait, check: {a}+{b} = {c}."
          "</internal_thoughts><external_solution>The answer is \\boxed{{{c}}}.</external_solution>")


def _tokenizer() -> Any:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    text = [p.read_text(encoding="utf-8") for p in sorted((ROOT / "training" / "exemplars").glob("*.md"))]
    text += (ROOT / "tasks" / "zebralogic" / "smoke.jsonl").read_text(encoding="utf-8").splitlines()
    text += [ANSWER.format(a=i, b=7 - i, c=7) for i in range(8)]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    special = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    tok.train_from_iterator(text, trainers.BpeTrainer(vocab_size=2000, special_tokens=special,
                                                       initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>",
                                   bos_token="<|im_start|>")
    fast.chat_template = CHATML
    return fast


def _config(tok: Any, **extra: Any) -> Any:
    from transformers import LlamaConfig

    return LlamaConfig(vocab_size=len(tok), hidden_size=128, intermediate_size=256, num_hidden_layers=4,
                       num_attention_heads=4, num_key_value_heads=4, head_dim=32, max_position_embeddings=4096,
                       eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id, bos_token_id=tok.bos_token_id,
                       **extra)


def small_llama(folder: Path) -> Path:
    """A causal LM checkpoint folder (model + tokenizer with its chat template)."""
    import torch
    from transformers import LlamaForCausalLM

    tok = _tokenizer()
    torch.manual_seed(0)
    LlamaForCausalLM(_config(tok)).save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


def small_reward_model(folder: Path) -> Path:
    """A sequence classifier with one output (an ORM's shape), the same tokenizer."""
    import torch
    from transformers import LlamaForSequenceClassification

    tok = _tokenizer()
    torch.manual_seed(1)
    LlamaForSequenceClassification(_config(tok, num_labels=1)).save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


def chat_rows(n: int) -> list[dict[str, Any]]:
    """`n` chat rows (user question, long-CoT assistant answer), as stage 1's sft.jsonl."""
    return [{"messages": [{"role": "user", "content": f"Solve {i}+{i % 7}. Think step by step."},
                          {"role": "assistant", "content": ANSWER.format(a=i, b=i % 7, c=i + i % 7)}]}
            for i in range(n)]


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def median_ratio(a: list[float], b: list[float]) -> float:
    """The median of the per-repeat ratios a_i / b_i (each pair measured back to back)."""
    import statistics

    return statistics.median(x / y for x, y in zip(a, b))


def zebra_source(tmp: Path, count: int, name: str) -> Path:
    """The first `count` smoke ZebraLogic puzzles as a query file `tmp/name` (stage 1 and 3 cases)."""
    rows = (ROOT / "tasks/zebralogic/smoke.jsonl").read_text().splitlines()[:count]
    source = tmp / name
    source.write_text("".join(json.dumps(json.loads(r)) + "\n" for r in rows))
    return source
