"""WildBench v2: 1024 real user tasks with checklists, judged two ways (Lin et al., 2024).

One task, `wildbench`, one answer per item, and per answer these judge calls:
- `score`: WB-Score, checklist-guided single grading (JSON strengths / weaknesses / score 1-10);
- `reward:<model>`: WB-Reward, one pairwise battle against each reference model's answer in
  one seeded random order (not both orders, as the official eval.py), choices A++ .. B++.

The summary holds both: WB-Score (mean and task-macro, per task group) and WB-Reward (the
mix over reference models, per reference, per task group, for every leaderboard K), all on
the leaderboard's scale (WB-Score (mean - 5) * 2 x10, rewards x100). The headline is the
WB-Score task macro, which the leaderboard ranks by. The judge sees the history, the query,
the checklist and the candidate's external solution (never its thoughts), each cut to 1000
words as the official scorer does. An empty answer is not sent to the judge: it gets the
verdicts the official eval.py fills in (score 1; a "++" loss, or a tie when both are empty).
Official judge: gpt-4-turbo-2024-04-09 (v2.0522 judged both WB-Score and WB-Reward with it).

Data and templates: bolt_eval/wildbench/{data,templates}.py; arithmetic: scoring.py.
"""

from __future__ import annotations

import warnings
from typing import Any, ClassVar

import numpy as np

from bolt_eval.benchmarks.base import Dataset, Rows, Task
from bolt_eval.judging.judge import JudgePrompt
from bolt_eval.judging.templates import Template
from bolt_eval.registry import benchmarks
from bolt_eval.stats import Estimate
from bolt_eval.types import Sample, UserError
from bolt_eval.wildbench import data, scoring, templates

FIXED_CHOICE = {(True, True): "A=B", (True, False): "B++", (False, True): "A++"}  # (A empty, B empty)


@benchmarks.register("wildbench")
class WildBench(Task):
    name = "wildbench"
    version = "1"
    official_judge = "gpt-4-turbo-2024-04-09"
    unit = "score"
    #: Length penalty in characters (-1 disables); every leaderboard K is reported as well.
    length_penalty_k: ClassVar[int] = scoring.K_DEFAULT
    #: Seed of the A/B order of each battle (eval.py's --seed default).
    order_seed: ClassVar[int] = 42

    def load(self) -> Dataset:
        self._refs_seen: tuple[str, tuple[str, ...]] | None = None
        return super().load()

    def official_rows(self) -> tuple[Rows, str, str]:
        return data.official_rows()

    def to_sample(self, row: dict[str, Any], place: str) -> Sample:
        sample = data.to_sample(row, place)
        models = tuple(sample.reference["references"])
        seen = getattr(self, "_refs_seen", None)
        if seen is None:
            self._refs_seen = (place, models)
        elif seen[1] != models:
            raise UserError(f"{place}: field 'reference_outputs' holds {list(models) or 'none'}, but {seen[0]} "
                            f"holds {list(seen[1]) or 'none'}: every row needs the same reference models")
        return sample

    def prompt(self, sample: Sample, turn: int) -> str:
        return sample.turns[turn]

    def template_text(self) -> str:
        return "{earlier turns as chat messages}{user query}"  # the conversation as recorded

    def judge_templates(self) -> dict[str, Template]:
        return templates.load()

    def judge_prompts(self, sample: Sample, output: dict[str, Any],
                      templates: dict[str, Template]) -> dict[str, JudgePrompt]:
        ref = sample.reference
        solution = output["turns"][0]["solution"]
        common = {"history": data.shorten(ref["history"]), "user_query": data.shorten(ref["user_query"]),
                  "checklist": data.checklist_markdown(ref["checklist"])}
        out: dict[str, JudgePrompt] = {}
        if solution.strip():
            out["score"] = templates["score"].render(model_output=data.shorten(solution), **common)
        for model, answer in ref["references"].items():
            if not solution.strip() or not answer.strip():
                continue
            a, b = (solution, answer) if scoring.candidate_is_a(self.order_seed, sample.id, model) else (answer, solution)
            out[f"reward:{model}"] = templates["pairwise"].render(
                candidate_A=data.shorten(a), candidate_B=data.shorten(b), **common)
        return out

    def score(self, sample: Sample, solutions: list[str]) -> dict[str, Any]:
        """Judged; kept here are the task groups, so the run's records alone give the
        headline's item weights (`item_weights` sees records, not samples)."""
        return {"task_groups": sample.reference["groups"]}

    # -- aggregation -------------------------------------------------------------------------

    @staticmethod
    def grades(record: dict[str, Any]) -> list[float]:
        """The 1-10 grades of a sample's answers that have one (an empty answer: 1)."""
        out = []
        for o in record["outputs"]:
            if not o["turns"][0]["solution"].strip():
                out.append(1.0)
            elif (j := o["judgments"].get("score")) and j["status"] == "ok":
                out.append(float(j["verdict"]["score"]))
        return out

    def rewards(self, sample: Sample, record: dict[str, Any], model: str, k: int) -> list[float]:
        """The candidate's rewards against `model` for a sample's answers that have a verdict."""
        answer = sample.reference["references"][model]
        out = []
        for o in record["outputs"]:
            solution = o["turns"][0]["solution"]
            cand_a = scoring.candidate_is_a(self.order_seed, sample.id, model)
            if not solution.strip() or not answer.strip():
                empty_a, empty_b = (not solution.strip(), not answer.strip()) if cand_a else \
                    (not answer.strip(), not solution.strip())
                choice = FIXED_CHOICE[(empty_a, empty_b)]
            elif (j := o["judgments"].get(f"reward:{model}")) and j["status"] == "ok":
                choice = j["verdict"]
            else:
                continue
            out.append(scoring.reward(choice, cand_a, len(solution), len(answer), k))
        return out

    def aggregate(self, samples: list[Sample], records: list[dict[str, Any]]) -> dict[str, Any]:
        groups = [s.reference["groups"] for s in samples]
        grade = np.array([_mean([scoring.adjusted(g) for g in self.grades(r)]) for s, r in zip(samples, records)])
        sc = scoring.Resampled(grade, groups)
        out: dict[str, Any] = {
            "wb_score_macro": _est(sc.estimate(lambda i: sc.macros(i)[:, 0])),
            "wb_score": _est(sc.estimate(lambda i: sc.means(i)[:, 0])),
            "by_task_group": {g: _est(sc.estimate(lambda i, n=n: sc.group_means(i)[:, 0, n]))
                              for n, g in enumerate(scoring.GROUPS) if any(g in gs for gs in groups)},
        }
        if missing := sc.missing_groups():
            official = float(sc.official_macro()[0])
            out["groups_missing"] = missing
            out["wb_score_macro_official"] = round(official, 6)
            out["notes"] = [f"no graded task in {', '.join(missing)}: the task macro is over the "
                            f"{len(scoring.GROUPS) - len(missing)} groups present; the official scorer divides by all "
                            f"five weights and would read {official:.1f}"]
        models = list(samples[0].reference["references"]) if samples else []
        out["reference_models"] = models
        out["length_penalty_k"] = self.length_penalty_k
        if not models:
            out["wb_reward"] = None  # a local copy without reference answers: WB-Score only
            return out
        by_k = {}
        for k in sorted({*scoring.K_LEADERBOARD, self.length_penalty_k}):
            values = np.array([[_mean([100.0 * x for x in self.rewards(s, r, m, k)]) for m in models]
                               for s, r in zip(samples, records)]).reshape(len(samples), len(models))
            rw = scoring.Resampled(values, groups)
            if k == self.length_penalty_k:
                main = rw
            by_k[str(k)] = round(float(scoring.mix(rw.means(rw.point_idx))[0]), 6)
        out["wb_reward"] = _est(main.estimate(lambda i: scoring.mix(main.means(i))))
        out["wb_reward_macro"] = _est(main.estimate(lambda i: scoring.mix(main.macros(i))))
        out["by_reference"] = {m: _est(main.estimate(lambda i, c=c: main.means(i)[:, c])) for c, m in enumerate(models)}
        out["by_reference_macro"] = {m: _est(main.estimate(lambda i, c=c: main.macros(i)[:, c]))
                                     for c, m in enumerate(models)}
        out["by_task_group_reward"] = {g: _est(main.estimate(lambda i, n=n: scoring.mix(main.group_means(i)[:, :, n])))
                                       for n, g in enumerate(scoring.GROUPS) if any(g in gs for gs in groups)}
        out["reward_by_k"] = by_k
        out["outcomes"] = {m: self._outcomes(samples, records, m) for m in models}
        return out

    def _outcomes(self, samples: list[Sample], records: list[dict[str, Any]], model: str) -> dict[str, int]:
        names = {1.0: "win_much", 0.5: "win", 0.0: "tie", -0.5: "lose", -1.0: "lose_much"}
        counts = dict.fromkeys(names.values(), 0)
        for s, r in zip(samples, records):
            for x in self.rewards(s, r, model, self.length_penalty_k):
                counts[names[x]] += 1
        return counts

    def headline(self, summary: dict[str, Any]) -> tuple[str, Estimate]:
        return "wb_score_macro", Estimate(**summary["wb_score_macro"])

    def item_values(self, samples: list[Sample], records: list[dict[str, Any]]) -> dict[str, float]:
        """Per task, its WB-Score (mean over its graded answers); NaN when none is graded."""
        return {r["id"]: _mean([scoring.adjusted(g) for g in self.grades(r)]) for r in records}

    def item_weights(self, samples: list[Sample], records: list[dict[str, Any]]) -> dict[str, float]:
        """Per task, its weight in the task macro (scoring.macro_weights over the graded tasks)."""
        values = self.item_values(samples, records)
        graded = [r for r in records if not np.isnan(values[r["id"]])]
        groups = [r["outputs"][0]["score"]["task_groups"] for r in graded]
        weights = dict(zip([r["id"] for r in graded], scoring.macro_weights(groups)))
        return {r["id"]: weights.get(r["id"], 0.0) for r in records}


def _mean(xs: list[float]) -> float:
    return float(np.mean(xs)) if xs else float("nan")


def _est(e: Estimate) -> dict[str, Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return e.to_dict()
