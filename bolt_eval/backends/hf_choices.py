"""Scoring choices as continuations of a text, for the hf backend: on a fresh prefill of
the context (`score_context`), or on the KV cache `generate` has just left behind
(`score_after_generate`).

A local judge whose free reply has no verdict is asked for one constrained to the allowed
verdicts (judging/constrained.py): each choice is scored as the continuation of the judge
prompt + its reply + the verdict prefix. Asked later, that prefills the whole judge prompt
a second time (~2 s at 1500 tokens on 2 cores: 40 s of a 5-minute `nox -s eval`). Asked
right after the batch that wrote the replies (`Request.followup`), the prompt and the reply
are already in the batch's cache, and only the prefix and the choices are fed.

Both ways score the same tokens, the way lm-eval scores a continuation: the whole text
(context + choice) is tokenized at once and the tokens past the context's are the
choice's. The cache is used only as far as it holds exactly the whole text's tokens; a
row where it holds none of the reply's (its reply re-tokenized otherwise from the first
token, or its prompt cut to fit) gets no scores here, and the judge scores it later.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any


@dataclass
class Tokens:
    """One context and its choices, tokenized whole: `fed` tokens are shared by every
    choice; choice j's own tokens begin at `starts[j]` of `wholes[j]`."""

    context: list[int]
    wholes: list[list[int]]
    starts: list[int]

    @property
    def longest(self) -> int:
        return max(map(len, self.wholes))

    @property
    def fed(self) -> int:
        return min(self.starts) - 1  # the last shared token is fed with each choice, for its logits

    @classmethod
    def of(cls, tokenizer: Any, context: str, choices: tuple[str, ...]) -> Tokens:
        ctx = tokenizer(context, add_special_tokens=False)["input_ids"]
        wholes = [tokenizer(context + c, add_special_tokens=False)["input_ids"] for c in choices]
        starts = [shared_prefix(ctx, w) for w in wholes]
        if any(s >= len(w) for s, w in zip(starts, wholes)):
            raise ValueError(f"a choice adds no token to the context: {choices!r}")
        return cls(ctx, wholes, starts)

    def score(self, logp: Any, row: int, j: int) -> float:
        """Choice j's log-likelihood from log-probabilities over the tokens fed from `fed`
        (position i predicts token fed + i + 1)."""
        whole, fed = self.wholes[j], self.fed
        return float(sum(logp[row, k - fed - 1, whole[k]] for k in range(self.starts[j], len(whole))))


def score_context(model: Any, tokens: Tokens, cut: int, keep_last: dict[str, int]) -> list[float]:
    """Every choice's log-likelihood after a fresh prefill of the shared tokens (from `cut`,
    the tokens left out on the left to fit the context); each choice continues from a copy
    of that cache."""
    import torch

    device = model.device
    with torch.inference_mode():
        cache = model(input_ids=torch.tensor([tokens.context[cut:tokens.fed]], device=device), use_cache=True,
                      **keep_last).past_key_values
        scores = []
        for j, whole in enumerate(tokens.wholes):
            rest = torch.tensor([whole[tokens.fed:]], device=device)
            logits = model(input_ids=rest, past_key_values=copy.deepcopy(cache), use_cache=True).logits
            scores.append(tokens.score(torch.log_softmax(logits.float(), dim=-1), 0, j))
    return scores


def score_after_generate(model: Any, cache: Any, prompt_mask: Any, held: list[list[int]],
                         rows: list[Tokens | None], keep_last: dict[str, int]) -> list[list[float] | None]:
    """Each row's choices scored on the batch's cache after `generate`: columns [0, W) hold
    the left-padded prompts (`prompt_mask`), the next ones the generated tokens. `held[r]`
    is the token sequence whose keys row r's cache holds (its real prompt tokens, then its
    generated tokens up to its end); a row with `rows[r]` None, or whose cache does not hold
    its whole text as far as the prompt's end, gets None."""
    import torch

    width = prompt_mask.shape[1]
    generated = cache.get_seq_length() - width
    live: dict[int, int] = {}  # row -> the first token of its whole text to feed
    reply_shared: dict[int, int] = {}  # row -> how many of its generated tokens its whole text shares
    for r, t in enumerate(rows):
        prompt_len = int(prompt_mask[r].sum())
        same = min(shared_prefix(t.context, held[r][:prompt_len + generated]), t.fed) if t else -1
        if same >= prompt_len:
            live[r], reply_shared[r] = same, same - prompt_len
    if not live:
        return [None] * len(rows)
    mask = torch.zeros((len(rows), width + generated), dtype=prompt_mask.dtype, device=prompt_mask.device)
    mask[:, :width] = prompt_mask  # a row not scored feeds padding, attending to its prompt only
    for r, shared in reply_shared.items():
        mask[r, width:width + shared] = 1
    scores: dict[int, list[float]] = {r: [] for r in live}
    with torch.inference_mode():
        mask = _feed(model, cache, mask, {r: rows[r].context[u:rows[r].fed] for r, u in live.items()}, live,
                     keep_last)[1]
        after = {r: rows[r].fed for r in live}
        for j in range(max(len(rows[r].wholes) for r in live)):
            feeding = {r: rows[r].wholes[j][rows[r].fed:] for r in live if j < len(rows[r].wholes)}
            length = cache.get_seq_length()
            logits = _feed(model, cache, mask, feeding, after, {})[0]
            logp = torch.log_softmax(logits.float(), dim=-1)
            for r in feeding:
                scores[r].append(rows[r].score(logp, r, j))
            cache.crop(length - cache.get_seq_length())  # remove the choice's tokens again
    return [scores.get(r) for r in range(len(rows))]


def _feed(model: Any, cache: Any, mask: Any, tokens: dict[int, list[int]], first: dict[int, int],
          keep_last: dict[str, int]) -> tuple[Any, Any]:
    """Feed each row its tokens (right-padded; other rows feed padding), row r's first at
    position first[r]; returns (logits, the mask grown by the new columns). Nothing to feed:
    (None, the mask)."""
    import torch

    length = max(map(len, tokens.values()), default=0)
    if not length:
        return None, mask
    rows = mask.shape[0]
    ids = torch.zeros((rows, length), dtype=torch.long, device=mask.device)
    new = torch.zeros((rows, length), dtype=mask.dtype, device=mask.device)
    positions = torch.zeros((rows, length), dtype=torch.long, device=mask.device)
    for r, toks in tokens.items():
        ids[r, :len(toks)] = torch.tensor(toks, dtype=torch.long)
        new[r, :len(toks)] = 1
        positions[r] = first[r] + torch.arange(length)
    mask = torch.cat([mask, new], dim=1)
    out = model(input_ids=ids, attention_mask=mask, position_ids=positions, past_key_values=cache, use_cache=True,
                **keep_last)
    return out.logits, mask


def shared_prefix(a: list[int], b: list[int]) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n
