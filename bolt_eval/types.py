"""The shared vocabulary: plain dataclasses that flow from task to backend to store.

Every arrow of the flow (task -> samples -> backend.generate -> split -> score -> store)
passes one of these, so a newcomer can read the whole pipeline by reading this file.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

TASKS_DIR = Path(__file__).resolve().parents[1] / "tasks"  # suites, fixtures, templates, prices

Message = dict[str, str]  # {"role": "system"|"user"|"assistant", "content": "..."}


class UserError(Exception):
    """A problem the user can fix (bad flag, bad file, missing model).

    The CLI prints the message without a traceback and exits non-zero; the message must
    name the place (file, line, field, flag) and the fix.
    """

    exit_code = 2


@dataclass(frozen=True)
class SamplingParams:
    """How to sample. temperature 0 means greedy decoding."""

    temperature: float = 0.0
    top_p: float = 1.0
    max_new_tokens: int = 512
    stop: tuple[str, ...] = ()
    seed: int = 0
    n: int = 1

    def with_(self, **changes: Any) -> SamplingParams:
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["stop"] = list(self.stop)
        return d


@dataclass(frozen=True)
class Request:
    """One conversation to complete. `sample_id` and `turn` let a replay backend find
    recorded answers and let logs name what failed."""

    sample_id: str
    turn: int
    messages: tuple[Message, ...]
    params: SamplingParams
    # (text, choices): a backend that can (`Backend.can_follow_up`) also scores each choice as
    # the continuation of its reply + text, on the cache the reply left (a judge's verdict)
    followup: tuple[str, tuple[str, ...]] | None = None


@dataclass(frozen=True)
class Completion:
    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str  # "stop" | "length" | "error" | "replay"
    latency_s: float = 0.0
    error: str | None = None  # set when finish_reason == "error": the request failed
    prompt_cut: int = 0  # prompt tokens cut from the left to fit the context (--context-policy truncate)
    followup_logprobs: tuple[float, ...] | None = None  # the request's followup choices, scored

    @staticmethod
    def failed(message: str, latency_s: float = 0.0) -> Completion:
        return Completion("", 0, 0, "error", latency_s, message)


@dataclass(frozen=True)
class Sample:
    """One benchmark item. `turns` are the user messages (MT-Bench has two); `reference`
    holds whatever the scorer needs (answer, subject, level, checklist, ...)."""

    id: str
    turns: tuple[str, ...]
    reference: dict[str, Any] = field(default_factory=dict)
    system: str | None = None
    history: tuple[Message, ...] = ()  # a recorded conversation the first turn continues (WildBench)


@dataclass(frozen=True)
class Split:
    """A long-CoT response cut into internal thoughts and the external solution."""

    thoughts: str | None
    solution: str
    thoughts_closed: bool  # False when an opening tag was seen but never closed
