"""The hf backend's in-place KV cache (bolt_eval/backends/hf_cache.py) holds exactly what
transformers' DynamicCache holds, through growth past its room, a crop and a reorder, and
writes in place while it has room."""

import torch
from transformers.cache_utils import DynamicLayer

from bolt_eval.backends import hf_cache
from bolt_eval.backends.base import BackendSpec, build_backend
from bolt_eval.types import Request, SamplingParams


def states(rows: int, tokens: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(rows, 2, tokens, 4, generator=g), torch.randn(rows, 2, tokens, 4, generator=g)


def same(a: tuple[torch.Tensor, torch.Tensor], b: tuple[torch.Tensor, torch.Tensor]) -> bool:
    return torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])


def test_a_reserved_layer_holds_what_a_dynamic_layer_holds():
    ours, theirs = hf_cache.ReservedLayer(reserve=3), DynamicLayer()
    room = []
    for step, tokens in enumerate([5, 1, 1, 1, 4, 1]):  # a prompt, then past its room
        k, v = states(2, tokens, step)
        assert same(ours.update(k, v), theirs.update(k, v))
        room.append(ours._keys.shape[-2])
    assert room == [8, 8, 8, 8, 15, 15] and ours.get_seq_length() == theirs.get_seq_length() == 13
    ours.crop(-2), theirs.crop(-2)
    allocation = ours._keys
    k, v = states(2, 1, 99)
    assert same(ours.update(k, v), theirs.update(k, v)) and ours._keys is allocation  # written in place
    for layer in (ours, theirs):
        layer.batch_select_indices(torch.tensor([1]))  # generate's reorder: a new tensor, copied into new room
    k, v = states(1, 2, 7)
    assert same(ours.update(k, v), theirs.update(k, v)) and ours.keys.shape == (1, 2, 14, 4)


def test_a_reserved_layers_first_allocation_holds_its_length():
    layer = hf_cache.ReservedLayer(reserve=3, length=10)
    room = []
    for step, tokens in enumerate([4, 4, 2, 1]):  # a prompt in chunks, then past its length
        layer.update(*states(1, tokens, step))
        room.append(layer._keys.shape[-2])
    assert room == [10, 10, 10, 14] and layer.get_seq_length() == 11


def test_greedy_batches_decode_the_same_tokens_as_with_transformers_dynamic_cache(tiny_llama, monkeypatch):
    p = SamplingParams(max_new_tokens=12)
    reqs = [Request(str(i), 0, ({"role": "user", "content": "Solve " + "2+3 " * 5 * i},), p) for i in range(4)]
    made = []
    reserved = hf_cache.reserved_cache
    monkeypatch.setattr(hf_cache, "reserved_cache",
                        lambda config, reserve, length=0: made.append((reserve, length)) or reserved(config, reserve, length))
    with build_backend(BackendSpec("hf", str(tiny_llama), batch_size=4)) as backend:
        ours = [cs[0].text for cs in backend.generate(reqs)]
        # transformers' own cache: generate prefills the padded batch itself
        monkeypatch.setattr(hf_cache, "reserved_cache", lambda config, reserve, length=0: hf_cache.DynamicCache(config=config))
        theirs = [cs[0].text for cs in backend.generate(reqs)]
    lengths = sorted((len(backend.tokenizer(backend._render(r), add_special_tokens=False)["input_ids"]) for r in reqs),
                     reverse=True)
    # one batch cache: its prompt width + room for the new tokens; then one per prompt, its length but the last token
    assert made == [(13, lengths[0] + 13)] + [(0, n - 1) for n in lengths]
    assert ours == theirs and len(set(ours)) > 1
