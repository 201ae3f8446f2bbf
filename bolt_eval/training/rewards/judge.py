"""An LLM judge's 1-10 grade of the external solution, as a reward normalised to 0-1.

The judge is any backend (a hosted API, a vLLM server, a local model) run through the
harness's judging engine (`bolt_eval.judging.judge.Judge`) and its ledger at
`<output_dir>/judgments.sqlite`: a judgment already made is read back, never paid twice,
and a kill loses only the calls in flight. The template is the project's own
(training/templates/reward-judge.txt, an MT-Bench-style single-answer grading prompt with
`{prompt}` and `{solution}` slots) or the recipe's `template` file; its sha256 is recorded.
The grade is read by the MT-Bench rating parser ("[[7]]"); a reply without one, after the
engine's retries, is a failure of that item, not a 0. Reward = (grade - 1) / 9.
"""

from __future__ import annotations

import string
from pathlib import Path
from typing import Any

from bolt_eval.judging.judge import Judge, JudgeSpec
from bolt_eval.judging.parsers import PARSERS
from bolt_eval.judging.templates import Template
from bolt_eval.registry import backends
from bolt_eval.training.recipe import RewardComponent, resolve_path
from bolt_eval.training.rewards.base import Component, Part, RewardItem
from bolt_eval.types import SamplingParams, UserError

DEFAULT_TEMPLATE = "training/templates/reward-judge.txt"
SLOTS = {"prompt", "solution"}


def load_template(given: str, place: str) -> Template:
    """A template file (as the recipe names it): the judge's user message with `{prompt}`
    and `{solution}`."""
    path = resolve_path(given)
    try:
        text = path.read_text(encoding="utf-8")
        slots = {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
    except OSError as err:
        raise UserError(f"{place}: key 'template': cannot read {path} ({err.strerror}); "
                        f"give an existing file or leave it out for {DEFAULT_TEMPLATE}") from err
    except ValueError as err:
        raise UserError(f"{path}: not a template ({err}); write literal braces as {{{{ and }}}}") from err
    if slots != SLOTS:
        raise UserError(f"{path}: a reward-judge template has exactly the slots {{prompt}} and {{solution}}; "
                        f"found {', '.join(sorted(f'{{{s}}}' for s in slots)) or 'none'} "
                        "(write literal braces as {{ and }})")
    return Template(path.stem, None, text, "rating", f"project:{given}")


class JudgeReward(Component):
    kind = "judge"

    def __init__(self, name: str, weight: float, comp: RewardComponent, place: str, output_dir: str) -> None:
        super().__init__(name, weight)
        if comp.model is None:
            raise UserError(f"{place}: key 'model' missing: a judge reward needs the judge, "
                            "e.g. model: {model: gpt-4o-mini, backend: openai}")
        self.template = load_template(comp.template or DEFAULT_TEMPLATE, place)
        self.spec = JudgeSpec(comp.model.spec(), SamplingParams(temperature=0.0, max_new_tokens=comp.max_new_tokens))
        self.ledger_path = Path(output_dir) / "judgments.sqlite"
        self._judge: Judge | None = None

    def preflight(self) -> None:
        backends.get(self.spec.backend.backend).preflight(self.spec.backend)

    def _get(self) -> Judge:
        if self._judge is None:
            from bolt_eval.judging.cost import Budget, Meter, load_prices
            from bolt_eval.judging.ledger import Ledger

            b = self.spec.backend
            self._judge = Judge(self.spec, Ledger(self.ledger_path), Meter.for_model(b.backend, b.model, load_prices()),
                                Budget(None))
        return self._judge

    def score(self, items: list[RewardItem], solutions: list[str]) -> list[Part]:
        prompts = [self.template.render(prompt=item.prompt, solution=s) for item, s in zip(items, solutions)]
        parts = []
        for entry in self._get().run(prompts):
            if entry.status == "ok":
                parts.append(Part((float(entry.verdict) - 1.0) / 9.0))
            else:
                why = entry.error or (f"reply: {entry.raw[:120]!r}" if entry.raw else "no reply")
                parts.append(Part(None, f"judge {entry.status} after {entry.attempts} call(s) ({why})"))
        return parts

    def settings(self) -> dict[str, Any]:
        b = self.spec.backend
        return {"judge": backends.get(b.backend).identity(b), "params": self.spec.params.to_dict(),
                "template": self.template.id, "template_sha256": self.template.sha256,
                "template_source": self.template.source, "parser": PARSERS["rating"].id, "reward": "(grade - 1) / 9"}

    def close(self) -> None:
        if self._judge is not None:
            self._judge.close()
            self._judge.ledger.close()
            self._judge = None
