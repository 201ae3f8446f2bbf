"""Fixtures for the training tests: the tiny offline Llama (tests/conftest.py) and a tiny
sequence-classification reward model built offline on the same tokenizer."""

from __future__ import annotations

from pathlib import Path

import pytest


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
