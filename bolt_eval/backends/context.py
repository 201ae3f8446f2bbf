"""What becomes of a prompt longer than the model's context: `--context-policy`.

`fail` (the default): the sample fails with a message naming the fixes; nothing is scored
on a prompt the model never saw whole, the other samples go on, and the same command
retries it once fixed. `truncate`: the prompt keeps its last tokens (the end of the
question and the assistant header of the chat template; lm-eval also cuts from the left),
a warning names the sample, and the record keeps how many tokens were cut (`prompt_cut`).
Either way `max_new_tokens` of the context stay free for the answer. Judges always fail:
a judge prompt cut from the left loses its instructions.
"""

from __future__ import annotations

import sys

from bolt_eval.types import Request, UserError

POLICIES = ("fail", "truncate")


def check_policy(policy: str) -> str:
    if policy not in POLICIES:
        raise UserError(f"--context-policy {policy}: choose one of {', '.join(POLICIES)}")
    return policy


def room(context: int | None, max_new_tokens: int) -> int | None:
    """Prompt tokens that fit beside the answer; None when the context is unknown."""
    return None if context is None else context - max_new_tokens


def overflow(request: Request, n_tokens: int, context: int | None, policy: str) -> str | None:
    """None when the prompt fits, or may be cut (then a warning says so); else why the
    sample fails (the caller names the sample)."""
    fits = room(context, request.params.max_new_tokens)
    if fits is None or n_tokens <= fits:
        return None
    where = f"turn {request.turn + 1}: the prompt is {n_tokens} tokens"
    context_of = f"the model's context of {context} tokens with {request.params.max_new_tokens} kept for the answer"
    if policy == "truncate" and fits > 0:
        print(f"bolt-eval: warning: {request.sample_id} {where}, cut to its last {fits} to fit {context_of} "
              "(--context-policy truncate)", file=sys.stderr, flush=True)
        return None
    return (f"{where}, more than the {max(fits, 0)} that fit {context_of}: pass --context-policy truncate "
            "to cut it from the left, or lower --max-new-tokens")
