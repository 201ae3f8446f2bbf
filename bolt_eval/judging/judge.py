"""The judge engine: prompts in, judgments out, every call going through the ledger.

A judge is a backend (hf, openai, vllm, replay) + templates (rendered by the task into
`JudgePrompt`s) + a verdict parser. `Judge.run` answers from the ledger what it can and
streams the rest through the backend (`Backend.stream`): an API judge keeps `concurrency`
calls in flight across all of them, a local one works a chunk at a time; each judgment is
written to the ledger the moment it arrives, so a kill loses only the calls in flight, and
an exhausted budget starts no new call.

A reply without a verdict is asked again (up to `parse_retries` more times per run) as a
fresh sample: another seed, and at temperature 0 the retry temperature, since a greedy
judge would repeat itself. What still fails is stored as a failure and asked again on
the next run; it is never a score.

A local judge (hf, vllm, vllm-serve) is not asked again freely: a reply without a verdict
gets one constrained to the template's allowed verdicts, after the judge's own reply
(judging/constrained.py), also for failed replies a ledger already holds (no new free
call). API judges keep free verdicts only. With `expected_score`, every grade is also
scored over the allowed grades (G-Eval), from the stored reply.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Callable

from bolt_eval.backends.base import BackendSpec, Choice, ChoiceRequest, LazyBackend
from bolt_eval.judging import constrained
from bolt_eval.judging.cost import Budget, Meter
from bolt_eval.judging.ledger import Entry, Ledger, judgment_key
from bolt_eval.judging.parsers import PARSERS, status_of
from bolt_eval.registry import backends
from bolt_eval.types import Completion, Message, Request, SamplingParams, UserError

FINAL = ("ok", "api_error")  # not asked again within this run


@dataclass(frozen=True)
class JudgeSpec:
    backend: BackendSpec
    params: SamplingParams = field(default_factory=lambda: SamplingParams(temperature=0.0, max_new_tokens=2048))
    parse_retries: int = 2
    retry_temperature: float = 0.7
    constrained: bool = True  # a local judge's reply without a verdict gets a constrained one
    expected_score: bool = False  # also score every grade over the allowed grades (G-Eval)


@dataclass(frozen=True)
class JudgePrompt:
    """One call to make: the rendered conversation, the template it came from
    ("single-v1@<sha12>") and the name of the parser for its reply."""

    template: str
    messages: tuple[Message, ...]
    parser: str


class Judge:
    def __init__(self, spec: JudgeSpec, ledger: Ledger, meter: Meter, budget: Budget) -> None:
        self.spec = spec
        self.ledger = ledger
        self.meter = meter
        self.budget = budget
        self.id = json.dumps(backends.get(spec.backend.backend).identity(spec.backend), sort_keys=True)
        self._key_params = (spec.params, spec.params.to_dict())  # asdict() per key was 6% of a call's CPU
        self._keys: dict[int, tuple[JudgePrompt, SamplingParams, str]] = {}  # id(prompt) -> memo, for one run()
        self.calls = 0  # judge calls made by this process
        self.live = True  # False: run() answers from the ledger only (judging/batch.py asks the judge)
        self.backend = LazyBackend(spec.backend)  # built only when a call is needed
        cls = backends.get(spec.backend.backend)
        self.constrain = spec.constrained and cls.can_choose
        self.follow_up = self.constrain and cls.can_follow_up
        if spec.expected_score and not cls.can_score:
            raise UserError(f"--judge-expected-score needs the judge's likelihoods, which the {spec.backend.backend} "
                            "backend does not give: use a local judge on --judge-backend hf or vllm")

    def key(self, prompt: JudgePrompt) -> str:
        """The prompt's ledger key, hashed once per prompt object within a run(): run() asks
        for it about eight times per prompt, a third of a warm re-run's CPU (cProfile)."""
        params = self.spec.params  # judging/noise.py gives a copy of the judge other params
        if self._key_params[0] is not params:
            self._key_params = (params, params.to_dict())
        hit = self._keys.get(id(prompt))
        if hit is None or hit[0] is not prompt or hit[1] is not params:  # the memo holds the prompt: ids stay unique
            hit = self._keys[id(prompt)] = (prompt, params, judgment_key(self.id, prompt.template, prompt.messages,
                                                                          self._key_params[1]))
        return hit[2]

    def lookup(self, prompts: list[JudgePrompt]) -> dict[str, Entry]:
        """Ledger rows for these prompts, re-parsed (and re-stored) where the parser changed."""
        found = self.ledger.get(sorted({self.key(p) for p in prompts}))
        parser_of = {self.key(p): PARSERS[p.parser] for p in prompts}
        stale = [e for e in found.values() if e.parser != parser_of[e.key].id and e.status != "api_error"]
        for e in stale:
            parser = parser_of[e.key]
            constrained_ok = e.method == "constrained" and e.verdict_text is not None
            e.verdict = parser.parse(e.verdict_text if constrained_ok else e.raw)
            e.status = "ok" if constrained_ok and e.verdict is not None else status_of(
                e.raw, e.finish_reason, None, e.verdict)
            e.parser = parser.id
        self.ledger.put(stale)
        return found

    def pending(self, prompts: list[JudgePrompt]) -> list[JudgePrompt]:
        """The prompts the ledger has no `ok` judgment for, each once."""
        done = self.lookup(prompts)
        seen: dict[str, JudgePrompt] = {}
        for p in prompts:
            k = self.key(p)
            if k not in seen and (k not in done or done[k].status != "ok"):
                seen[k] = p
        return list(seen.values())

    def run(self, prompts: list[JudgePrompt], progress: Callable[[int], None] | None = None) -> list[Entry]:
        """One Entry per prompt, in order. Stops early (leaving prompts unjudged, status
        "pending") only when the budget is exhausted; the caller reports that."""
        try:
            return self._run(prompts, progress)
        finally:
            self._keys.clear()  # the memo lives for one run: it holds its prompts

    def _run(self, prompts: list[JudgePrompt], progress: Callable[[int], None] | None) -> list[Entry]:
        todo = self.pending(prompts)
        if progress and len(prompts) > len(todo):
            progress(len(prompts) - len(todo))
        unverdicted: list[JudgePrompt] = []
        if self.constrain:  # failed replies already stored get their verdict without a new call
            stored = self.ledger.get([self.key(p) for p in todo])
            unverdicted = [p for p in todo if self._constrainable(p, stored.get(self.key(p)))]
            todo = [p for p in todo if p not in unverdicted]
        last = 0 if self.constrain else self.spec.parse_retries
        for attempt in range(last + 1):
            if not todo or self.budget.exhausted or not self.live:
                break
            todo = self._call(todo, attempt, attempt == last and not self.constrain, progress)
        if self.constrain:
            stored = self.ledger.get([self.key(p) for p in todo])
            self._constrain(unverdicted + [p for p in todo if self._constrainable(p, stored.get(self.key(p)))],
                            progress)
        if self.spec.expected_score:
            self._score_grades(prompts)
        found = self.ledger.get(sorted({self.key(p) for p in prompts}))
        return [found.get(self.key(p)) or _pending(self.key(p), self.id, p) for p in prompts]

    def _call(self, todo: list[JudgePrompt], attempt: int, last: bool,
              progress: Callable[[int], None] | None) -> list[JudgePrompt]:
        """Ask the backend for every prompt of `todo` (distinct keys), storing each judgment
        the moment it arrives; returns the prompts whose reply had no verdict (asked again)."""
        keys = [self.key(p) for p in todo]
        previous = self.ledger.get(keys)
        requests = []
        for k, p in zip(keys, todo):
            requests.append(Request(k[:12], 0, p.messages, self.params_for(previous[k].attempts if k in previous else 0),
                                    self._followup(p)))
        again: list[JudgePrompt] = []

        def store(i: int, completions: list[Completion]) -> None:
            c = completions[0]
            entry = self._entry(keys[i], todo[i], c, previous.get(keys[i]))
            if entry.status not in FINAL and c.followup_logprobs:  # scored with the reply: no second prefill
                choice = Choice.best(c.followup_logprobs)
                _give_verdict(entry, todo[i].parser, choice.index, choice.logprobs)
            self.ledger.put([entry])
            self.calls += 1
            self.budget.charge(self.meter, c.prompt_tokens, c.completion_tokens)
            # an api_error has had its retries in the backend; a reply without a verdict gets more
            if entry.status not in FINAL:
                again.append(todo[i])
            if progress:
                progress(int(entry.status in FINAL or last))

        self.backend.get().stream(requests, store, lambda: self.budget.exhausted)
        return again

    def params_for(self, tries: int) -> SamplingParams:
        """The sampling of a judgment asked for the `tries`+1-th time: a fresh seed each
        time, and at temperature 0 the retry temperature (a greedy judge repeats itself)."""
        params = self.spec.params.with_(seed=self.spec.params.seed + tries)
        return params.with_(temperature=self.spec.retry_temperature) if tries and params.temperature == 0 else params

    def _entry(self, key: str, prompt: JudgePrompt, c: Completion, old: Entry | None) -> Entry:
        parser = PARSERS[prompt.parser]
        verdict = None if c.error else parser.parse(c.text)
        return Entry(
            key=key, judge=self.id, template=prompt.template,
            status=status_of(c.text, c.finish_reason, c.error, verdict), verdict=verdict,
            parser=parser.id, raw=c.text, finish_reason=c.finish_reason, error=c.error,
            attempts=(old.attempts if old else 0) + 1,
            prompt_tokens=(old.prompt_tokens if old else 0) + c.prompt_tokens,
            completion_tokens=(old.completion_tokens if old else 0) + c.completion_tokens,
            latency_s=round((old.latency_s if old else 0.0) + c.latency_s, 4),
        )

    def _followup(self, prompt: JudgePrompt) -> tuple[str, tuple[str, ...]] | None:
        """What a backend that can should score right after the free reply: the allowed
        verdicts after the reply + the verdict prefix (used only if the reply has no verdict)."""
        allowed = constrained.allowed_for(prompt.parser) if self.follow_up else None
        return (constrained.SEPARATOR + allowed.prefix, allowed.choices) if allowed else None

    @staticmethod
    def _constrainable(prompt: JudgePrompt, entry: Entry | None) -> bool:
        """A stored reply without a verdict (not an API error) of a template with allowed verdicts."""
        return (entry is not None and entry.status not in FINAL and entry.status != "pending"
                and constrained.allowed_for(prompt.parser) is not None)

    def _constrain(self, prompts: list[JudgePrompt], progress: Callable[[int], None] | None) -> None:
        """Give each prompt's stored free reply a verdict chosen among the allowed ones,
        a chunk at a time, each chunk stored as soon as it is chosen."""
        unique = list({self.key(p): p for p in prompts}.values())
        size = self.spec.backend.chunk_size
        for start in range(0, len(unique), size):
            chunk = unique[start:start + size]
            entries = self.ledger.get([self.key(p) for p in chunk])
            rows = [entries[self.key(p)] for p in chunk]
            requests = [constrained.ALLOWED[p.parser].request(p.messages, e.raw) for p, e in zip(chunk, rows)]
            for p, e, choice in zip(chunk, rows, self.backend.get().choose(requests)):
                _give_verdict(e, p.parser, choice.index, choice.logprobs)
            self.ledger.put(rows)
            if progress:
                progress(len(chunk))

    def _score_grades(self, prompts: list[JudgePrompt]) -> None:
        """Score the allowed grades of every graded verdict not scored yet (G-Eval), from the
        stored reply: no new free call."""
        graded = {self.key(p): p for p in prompts if (a := constrained.allowed_for(p.parser)) and a.grades}
        rows = [e for e in self.ledger.get(list(graded)).values() if e.status == "ok" and e.choice_logprobs is None]
        size = self.spec.backend.chunk_size
        for start in range(0, len(rows), size):
            chunk = rows[start:start + size]
            requests: list[ChoiceRequest] = [
                constrained.ALLOWED[graded[e.key].parser].grade_request(graded[e.key].messages, e.raw, e.method)
                for e in chunk]
            for e, r, scores in zip(chunk, requests, self.backend.get().score_choices(requests)):
                e.choice_logprobs = dict(zip(r.choices, scores))
            self.ledger.put(chunk)

    def close(self) -> None:
        self.backend.close()


def _give_verdict(entry: Entry, parser: str, index: int, logprobs: tuple[float, ...] | None) -> None:
    """Make the allowed verdict `index` the entry's constrained verdict."""
    entry.verdict, entry.verdict_text = constrained.verdict(parser, index)
    entry.status = "ok" if entry.verdict is not None else "parse_error"
    entry.method = "constrained"
    entry.choice_logprobs = dict(zip(constrained.ALLOWED[parser].choices, logprobs)) if logprobs else None


def _pending(key: str, judge_id: str, prompt: JudgePrompt) -> Entry:
    return Entry(key, judge_id, prompt.template, "pending", None, PARSERS[prompt.parser].id, "", "", None, 0, 0, 0, 0.0)
