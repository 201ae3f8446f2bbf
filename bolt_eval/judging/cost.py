"""Cost: a price table the user edits, token estimates before any call, and a budget.

Prices are USD per million tokens by API model name (tasks/prices.yaml, or --prices FILE).
Local backends cost nothing. Estimates before a run count 4 characters per token for text
that exists and `max_new_tokens` for text not generated yet, so they are upper bounds.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from bolt_eval.types import TASKS_DIR, UserError

DEFAULT_PRICES = TASKS_DIR / "prices.yaml"
LOCAL_BACKENDS = ("hf", "vllm", "replay")


class Price(BaseModel):
    model_config = ConfigDict(extra="forbid")
    input: float
    output: float


def load_prices(path: str | Path | None = None) -> dict[str, Price]:
    p = Path(path) if path else DEFAULT_PRICES
    try:
        # libyaml's loader when present: the pure-Python one was 13% of a warm re-run's CPU
        raw = yaml.load(p.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) or {}
        if not isinstance(raw, dict):
            raise UserError(f"{p}: a price table maps model names to {{input: USD, output: USD}} per million tokens")
        return {str(name): Price.model_validate(v) for name, v in raw.items()}
    except OSError as err:
        raise UserError(f"--prices {p}: cannot read ({err.strerror})") from err
    except (yaml.YAMLError, ValidationError) as err:
        raise UserError(f"{p}: invalid price table: {err}") from err


def estimate_tokens(text: str) -> int:
    return max(1, len(text) // 4)


@dataclass
class Meter:
    """What one role (candidate or judge) of one model costs."""

    backend: str
    model: str
    price: Price | None  # None: an API model missing from the price table
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @staticmethod
    def for_model(backend: str, model: str, prices: dict[str, Price]) -> Meter:
        local = backend in LOCAL_BACKENDS
        return Meter(backend, model, Price(input=0, output=0) if local else prices.get(model))

    def usd(self, prompt_tokens: int, completion_tokens: int) -> float | None:
        if self.price is None:
            return None
        return (prompt_tokens * self.price.input + completion_tokens * self.price.output) / 1e6


@dataclass
class Budget:
    """A spending cap for one invocation. Work stops between chunks once it is reached;
    what finished is saved, and the next run continues where this one stopped."""

    limit_usd: float | None
    spent_usd: float = 0.0

    def require_prices(self, meter: Meter) -> None:
        if self.limit_usd is not None and meter.price is None:
            raise UserError(
                f"--budget needs a price for {meter.model!r}: add it to {DEFAULT_PRICES} "
                "(USD per million input and output tokens) or pass --prices FILE")

    def charge(self, meter: Meter, prompt_tokens: int, completion_tokens: int) -> None:
        meter.prompt_tokens += prompt_tokens
        meter.completion_tokens += completion_tokens
        self.spent_usd += meter.usd(prompt_tokens, completion_tokens) or 0.0

    @property
    def exhausted(self) -> bool:
        return self.limit_usd is not None and self.spent_usd >= self.limit_usd


class BudgetReached(UserError):
    exit_code = 3
