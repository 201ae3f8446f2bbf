"""Loaders and the IFEval-lite checks of the retention-lite tasks (lm-eval custom tasks).

The data files beside this one were written by the bolt-eval project, shaped like MMLU,
ARC-Challenge, IFEval and MGSM, a few dozen items each, so the retention suite can be run
and tested where the real datasets cannot be downloaded. Their numbers are NOT comparable
with published MMLU / ARC-C / IFEval / MGSM numbers.

IFEval-lite checks three of IFEval's instruction kinds the way lm-eval's IFEval
(lm_eval/tasks/leaderboard/ifeval/instructions.py) checks them: all lowercase, no comma,
fewer than N words (words as \\w+ tokens), a keyword present (case-insensitive). lm-eval's
own IFEval cannot run here: it needs langdetect, immutabledict and nltk data.
"""

import json
import re
from pathlib import Path

import datasets

HERE = Path(__file__).parent


def load(file, **kwargs):
    """custom_dataset: the JSONL beside this file as the test split."""
    rows = [json.loads(line) for line in (HERE / file).read_text(encoding="utf-8").splitlines() if line.strip()]
    return {"test": datasets.Dataset.from_list(rows)}


def _follows(instruction, kwargs, response):
    if instruction == "change_case:english_lowercase":
        return response == response.lower()
    if instruction == "punctuation:no_comma":
        return "," not in response
    if instruction == "length_constraints:number_words":
        words = len(re.findall(r"\w+", response))
        return words < kwargs["num_words"] if kwargs["relation"] == "less than" else words >= kwargs["num_words"]
    if instruction == "keywords:existence":
        return all(re.search(k, response, flags=re.IGNORECASE) for k in kwargs["keywords"])
    raise ValueError(f"IFEval-lite does not check {instruction}")


def process_results(doc, results):
    response = results[0].strip()
    followed = [_follows(i, {k: v for k, v in kw.items() if v is not None}, response) and bool(response)
                for i, kw in zip(doc["instruction_id_list"], doc["kwargs"])]
    return {"prompt_level_strict_acc": all(followed), "inst_level_strict_acc": followed}


def agg_inst_level_acc(items):
    flat = [x for sub in items for x in sub]
    return sum(flat) / len(flat)
