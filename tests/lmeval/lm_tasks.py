"""Custom lm-eval tasks on the small JSONL files in tests/lmeval/data/, written by the project:
`toy_mmlu`, a group of two multiple-choice tasks aggregated by size as lm-eval's MMLU is, and
`toy_arith`, a generate_until task with MGSM's flexible-extract filter."""

from __future__ import annotations

from pathlib import Path

DATA = Path(__file__).parent / "data"

MC = """task: {name}
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data}
test_split: test
output_type: multiple_choice
doc_to_text: "Question: {{{{question}}}}\\nAnswer:"
doc_to_choice: "{{{{choices}}}}"
doc_to_target: "{{{{answer}}}}"
metric_list:
  - {{metric: acc, aggregation: mean, higher_is_better: true}}
  - {{metric: acc_norm, aggregation: mean, higher_is_better: true}}
metadata:
  version: 1.0
"""

GROUP = """group: toy_mmlu
task: [toy_mmlu_a, toy_mmlu_b]
aggregate_metric_list:
  - {metric: acc, weight_by_size: true}
metadata:
  version: 2
"""

GEN = """task: toy_arith
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data}
test_split: test
output_type: generate_until
doc_to_text: "Question: {{{{question}}}}\\nAnswer:"
doc_to_target: "{{{{answer}}}}"
generation_kwargs: {{until: ["\\n\\n"], max_gen_toks: 8, do_sample: false}}
filter_list:
  - name: flexible-extract
    filter:
      - {{function: regex, regex_pattern: "(-?[0-9.,]{{1,}})", group_select: -1}}
      - {{function: take_first}}
metric_list:
  - {{metric: exact_match, aggregation: mean, higher_is_better: true}}
metadata:
  version: 3.0
"""


def write_tasks(folder: Path) -> Path:
    """The task YAMLs (lm-eval wants absolute data paths) in `folder`; returns it."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "toy_mmlu_a.yaml").write_text(MC.format(name="toy_mmlu_a", data=DATA / "mc_a.jsonl"))
    (folder / "toy_mmlu_b.yaml").write_text(MC.format(name="toy_mmlu_b", data=DATA / "mc_b.jsonl"))
    (folder / "_toy_mmlu.yaml").write_text(GROUP)
    (folder / "toy_arith.yaml").write_text(GEN.format(data=DATA / "arith.jsonl"))
    return folder
