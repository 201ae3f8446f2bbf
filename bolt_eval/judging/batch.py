"""Judging through the OpenAI Batch API: `bolt-eval run --judge-mode batch`.

Every judgment a run still needs (all its tasks) goes into Batch API jobs instead of live
calls: at half the price (OpenAI's Batch API guide: "50% cost discount compared to
synchronous APIs"), with results within the 24 h completion window. What it sends is what
a live call sends (the same body, `openai_api.chat_body`; the same seed and retry
temperature per attempt, `Judge.params_for`), and a result line becomes the ledger entry a
live reply would (`Judge._entry`: same key, parser, status, token counts), so a ledger
does not show which way a verdict came, and either way re-runs pay nothing twice.

Jobs are recorded in the ledger before anything is sent (judging/batch_store.py): a
killed run re-attaches to its jobs, finding a file or batch whose id it never heard by
listing them, instead of uploading or paying again. A reply without a verdict is asked
again (`--judge-parse-retries` times) in a follow-up batch, or live with
`--batch-parse-retries live`. A request without a result (an expired or failed batch, a
line in the error file) leaves its judgment pending, never scored: the run stops with
what happened (exit 2) and the same command submits only those again. By default the
run waits for its batches, polling with a progress bar; `--no-wait` submits (or checks)
and stops with exit 3 while a batch is still running: re-run the same command later.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, replace
from typing import Any

from bolt_eval.judging import batch_api as api_
from bolt_eval.judging.batch_store import BatchStore, Claim, Job
from bolt_eval.judging.cost import Budget, Meter, Price
from bolt_eval.judging.judge import FINAL, Judge, JudgePrompt
from bolt_eval.judging.ledger import Entry
from bolt_eval.judging.phase import prompts_for
from bolt_eval.types import Completion, Request, UserError

BATCH_DISCOUNT = 0.5  # batch price = live price x this (OpenAI Batch API: 50% off)


@dataclass(frozen=True)
class BatchSettings:
    wait: bool = True  # poll until every batch is over; False: submit or check once, then stop
    poll_interval_s: float = 60.0
    parse_retries: str = "batch"  # a reply without a verdict is asked again in a follow-up "batch" | "live"
    max_requests: int = api_.MAX_REQUESTS  # per input file
    max_bytes: int = api_.MAX_BYTES
    discount: float = BATCH_DISCOUNT


class BatchPending(UserError):
    """Batches still running (`--no-wait`): nothing lost, re-run later to collect them."""

    exit_code = 3


class BatchIncomplete(UserError):
    """Judgments left without a result by an expired or failed batch or failed lines."""


def adopt(judge: Judge, settings: BatchSettings) -> None:
    """Make `judge` a batch judge: priced at the batch rate, never called live by Judge.run."""
    b = judge.spec.backend
    if b.backend != "openai":
        raise UserError(f"--judge-mode batch sends judgments to the OpenAI Batch API; the judge {b.model!r} runs on "
                        f"the {b.backend} backend: use --judge-mode live, or an OpenAI judge")
    judge.meter = _priced(judge.meter, settings.discount)
    judge.live = False


def judge_in_batches(plans: list[Any], runs: list[Any], settings: BatchSettings, budget: Budget,
                     progress: bool) -> None:
    """Settle every judgment of `plans` (runner.Plan) whose answers `runs` hold, through the
    Batch API; raises when some are left without a verdict to be had later."""
    groups: dict[int, tuple[Judge, list[JudgePrompt]]] = {}
    for p, run in zip(plans, runs):
        samples = [s for s in p.samples if s.id in run.records]
        if p.judge is not None and samples:
            calls = prompts_for(p.task, samples, [run.records[s.id] for s in samples], p.templates)
            groups.setdefault(id(p.judge), (p.judge, []))[1].extend(c for *_, c in calls)
    batchers = [Batcher(judge, settings, budget, progress) for judge, _ in groups.values()]
    for b, (_, prompts) in zip(batchers, groups.values()):
        b.settle(prompts)
    waiting = [w for b in batchers for w in b.waiting]
    problems = [m for b in batchers for m in b.problems]
    if waiting:
        raise BatchPending(f"{sum(n for _, n, _ in waiting)} judgments in batch "
                           f"{', '.join(f'{i} ({s})' for i, _, s in waiting)}: re-run the same command later to "
                           "collect them (nothing is sent again)" + "".join(f"; {m}" for m in problems))
    if problems:
        raise BatchIncomplete("; ".join(problems) + ". Those judgments stay pending, never scored: re-run the same "
                              "command to submit only those")


class Batcher:
    """The batches of one judge: re-attach, submit, poll, collect, retry."""

    def __init__(self, judge: Judge, settings: BatchSettings, budget: Budget, progress: bool) -> None:
        self.judge, self.settings, self.budget, self.progress = judge, settings, budget, progress
        self.store = BatchStore(judge.ledger)
        self._api: Any = None
        self.waiting: list[tuple[str, int, str]] = []  # (batch id, requests, status) still running
        self.problems: list[str] = []
        self.unverdicted: set[str] = set()  # keys answered without a verdict in this run

    @property
    def api(self) -> Any:
        if self._api is None:
            self._api = api_.client(self.judge.spec.backend)
        return self._api

    def settle(self, prompts: list[JudgePrompt]) -> None:
        rounds = 1 + self.judge.spec.parse_retries
        for attempt in range(rounds):
            pending = {self.judge.key(p): p for p in self.judge.pending(prompts)}
            if attempt == 0:  # jobs of an earlier run first: their judgments are not sent again
                jobs = [j for j in map(self._advance, self.store.jobs(self.judge.id)) if j is not None]
                claimed = self.store.claimed(list(pending))
                todo = [p for k, p in pending.items() if k not in claimed]
            else:
                todo, jobs = [p for k, p in pending.items() if k in self.unverdicted], []
                self.unverdicted = set()
                if todo and self.settings.parse_retries == "live":
                    self._live(todo, attempt, attempt == rounds - 1)
                    continue
            if todo and not self.budget.exhausted:
                jobs += self._submit(todo)
            if not jobs:
                return
            self._collect(jobs)
            if self.waiting:
                return

    def _submit(self, todo: list[JudgePrompt]) -> list[Job]:
        """Split `todo` into jobs within the request and size limits, each recorded before
        its file is uploaded and its ids recorded as they come."""
        from bolt_eval.backends.openai_api import chat_body

        keys = [self.judge.key(p) for p in todo]
        previous = self.judge.ledger.get(keys)
        lines: list[tuple[Claim, bytes]] = []
        for k, p in zip(keys, todo):
            old = previous.get(k)
            prior = {"attempts": old.attempts, "prompt_tokens": old.prompt_tokens,
                     "completion_tokens": old.completion_tokens, "latency_s": old.latency_s} if old else {}
            body = chat_body(self.judge.spec.backend, Request(k[:12], 0, p.messages, self.judge.params_for(
                old.attempts if old else 0)))
            line = api_.input_line(k, body)
            if len(line) > self.settings.max_bytes:
                raise UserError(f"a judgment of template {p.template} is {len(line)} bytes as a Batch API line, over "
                                f"the {self.settings.max_bytes}-byte file limit: judge it with --judge-mode live")
            lines.append((Claim(k, p.template, p.parser, prior), line))
        jobs, chunk, size = [], [], 0
        for claim, line in lines + [(None, b"")]:  # a sentinel flushes the last chunk
            full = len(chunk) == self.settings.max_requests or size + len(line) > self.settings.max_bytes
            if chunk and (claim is None or full):
                if (job := self._start(chunk)) is not None:
                    jobs.append(job)
                chunk, size = [], 0
            if claim is not None:
                chunk.append((claim, line))
                size += len(line)
        return jobs

    def _start(self, chunk: list[tuple[Claim, bytes]]) -> Job | None:
        job = f"{int(time.time())}-{secrets.token_hex(6)}"
        mine = {c.key for c in self.store.reserve(job, self.judge.id, [c for c, _ in chunk])}
        if not mine:  # another run holds them all
            return None
        return self._advance(self.store.get(job), b"".join(line for c, line in chunk if c.key in mine))

    def _advance(self, job: Job, data: bytes | None = None) -> Job | None:
        """Take a job to `submitted`: upload its file (`data`) or find it uploaded, then
        find or create its batch. A prepared job of a killed run whose file never arrived
        is dropped (its judgments are free for a new job); None then."""
        if job.state == "prepared":
            file_id = api_.upload(self.api, job.file_name, data) if data is not None else \
                api_.find_file(self.api, job.file_name, job.created)
            if file_id is None:
                self.store.drop(job.job)
                return None
            job = self.store.update(job.job, state="uploaded", input_file_id=file_id)
        if job.state == "uploaded":
            assert job.input_file_id is not None
            found = None if data is not None else api_.find_batch(self.api, job.input_file_id, job.created)
            job = self.store.update(job.job, state="submitted",
                                    batch_id=found or api_.create(self.api, job.input_file_id, job.job))
        return job

    def _collect(self, jobs: list[Job]) -> None:
        """Poll `jobs` until each is over (once, without waiting), collecting each as it ends."""
        from bolt_eval.progress import progress_bar

        running = {j.job: j for j in jobs}
        bar = progress_bar(sum(j.requests for j in jobs), f"judge batches ({len(jobs)})", self.progress, "req")
        while running:
            done, status = sum(j.requests for j in jobs if j.job not in running), {}
            for j in list(running.values()):
                assert j.batch_id is not None
                b = api_.retrieve(self.api, j.batch_id)
                if b.status in api_.FINISHED:
                    self._finish(j, b)
                    del running[j.job]
                    done += j.requests
                else:
                    status[j.job] = b.status
                    done += (b.request_counts.completed + b.request_counts.failed) if b.request_counts else 0
            bar.update(done - bar.n)
            if running and not self.settings.wait:
                self.waiting += [(str(j.batch_id), j.requests, status[j.job]) for j in running.values()]
                break
            if running:
                time.sleep(self.settings.poll_interval_s)
        bar.close()

    def _finish(self, job: Job, b: Any) -> None:
        """Collect a batch that is over: its answers into the ledger, its failures noted."""
        if b.status == "failed":
            reasons = "; ".join(str(e.message) for e in (b.errors.data or [])) if b.errors else ""
            self.store.update(job.job, state="failed", note=reasons or "no reason given")
            self.problems.append(f"batch {b.id} failed ({reasons or 'no reason given'}): none of its "
                                 f"{job.requests} judgments was answered")
            return
        claims = {c.key: c for c in self.store.claims(job.job)}
        entries, errors = [], {}
        for r in api_.results(api_.download(self.api, b.output_file_id) + api_.download(self.api, b.error_file_id)):
            if r.custom_id not in claims:
                continue
            if r.completion is None:
                errors[r.custom_id] = str(r.error)
            else:
                entries.append(self._entry(claims[r.custom_id], r.completion))
        answered = {e.key for e in entries}
        errors.update({k: f"no result line (batch {b.status})" for k in claims if k not in answered | set(errors)})
        current = self.judge.ledger.get(sorted(answered))
        # an entry another run has since answered further is kept; one this job wrote is rewritten alike
        entries = [e for e in entries if not (e.key in current and current[e.key].attempts > e.attempts)]
        self.judge.ledger.put(entries)
        for e in entries:
            self.budget.charge(self.judge.meter, e.prompt_tokens - claims[e.key].prior.get("prompt_tokens", 0),
                               e.completion_tokens - claims[e.key].prior.get("completion_tokens", 0))
        self.judge.calls += len(entries)
        self.unverdicted |= {e.key for e in entries if e.status not in FINAL}
        self.store.note_errors(job.job, errors)
        self.store.update(job.job, state="collected" if b.status == "completed" else b.status)
        if errors:
            first = next(iter(errors.values()))
            self.problems.append(f"batch {b.id} {b.status}: {len(errors)} of {job.requests} requests have no "
                                 f"result (first: {first})")

    def _entry(self, claim: Claim, c: Completion) -> Entry:
        p = claim.prior
        old = Entry(claim.key, self.judge.id, claim.template, "pending", None, "", "", "", None,
                    p["attempts"], p["prompt_tokens"], p["completion_tokens"], p["latency_s"]) if p else None
        return self.judge._entry(claim.key, JudgePrompt(claim.template, (), claim.parser), c, old)

    def _live(self, todo: list[JudgePrompt], attempt: int, last: bool) -> None:
        """Ask replies without a verdict again live (`--batch-parse-retries live`), charged
        at the live price."""
        batch = self.judge.meter
        self.judge.meter = _priced(batch, 1 / self.settings.discount)
        try:
            again = self.judge._call(todo, attempt, last, None)
        finally:
            self.judge.meter = batch
        self.unverdicted = {self.judge.key(p) for p in again}


def _priced(meter: Meter, factor: float) -> Meter:
    price = meter.price
    return replace(meter, price=Price(input=price.input * factor, output=price.output * factor) if price else None)


def unsent(judge: Judge, prompts: list[JudgePrompt]) -> list[JudgePrompt]:
    """The prompts no open job holds: what `--dry-run` still counts as calls to pay for
    (a judgment in a running batch is paid already)."""
    if not judge.ledger.path.exists():
        return prompts
    held = BatchStore(judge.ledger).claimed([judge.key(p) for p in prompts])
    return [p for p in prompts if judge.key(p) not in held]
