"""`bolt-eval export-lm-eval --tasks math500,zebralogic -o DIR`: bolt-eval tasks as lm-eval tasks.

For each exactly-scored single-turn task (MATH500, ZebraLogic) it writes DIR/bolt_<task>/
with three files, so an lm-eval user (`lm_eval --tasks bolt_math500 --include_path DIR
--apply_chat_template`) gets bolt-eval's numbers:
  bolt_<task>.yaml   a generate_until task: the prompt bolt-eval sends, greedy, 0-shot
  utils.py           `process_results` calling bolt-eval's own scorer (lmeval/scoring.py),
                     so bolt-eval must be installed where lm-eval runs
  data.jsonl         the samples bolt-eval loads (official source, or --data FILE): id, the
                     prompt, and the original row the scorer reads
Judged tasks (MT-Bench, Arena-Hard, WildBench) are not exported: their number comes from an
API judge, which an lm-eval metric cannot call. Folders are written whole or not at all.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from bolt_eval.types import UserError

UTILS = '''"""lm-eval task {name}, exported by bolt-eval {version} (`bolt-eval export-lm-eval`).

Scored by bolt-eval's own {task} scorer (bolt_eval/lmeval/scoring.py): install bolt-eval
where lm-eval runs. Responses are split at the '{thoughts}' long-CoT delimiters first.
"""

from pathlib import Path

from bolt_eval.lmeval.scoring import Scorer, load_data as _load, weighted_mean  # noqa: F401

_SCORER = Scorer("{task}", "{thoughts}")


def load_data(**kwargs):
    return _load(Path(__file__).parent)


def process_results(doc, results):
    return {{"{metric}": _SCORER.item(doc, results[0])}}
'''


def add_export_parser(sub: Any) -> None:
    p = sub.add_parser("export-lm-eval", help="write bolt-eval's exactly-scored tasks as lm-eval task folders",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--tasks", required=True, help="comma-separated bolt-eval tasks: math500, zebralogic")
    p.add_argument("-o", "--out", required=True, help="folder to write the task folders into")
    p.add_argument("--data", action="append", default=[], metavar="[TASK=]FILE",
                   help="local data file instead of the official source (repeat per task)")
    p.add_argument("--limit", type=int, help="first N samples of each task")
    p.add_argument("--thoughts", default="none", help="long-CoT delimiters the scorer splits at: bolt | think | sky-t1 | none")
    p.add_argument("--max-gen-toks", type=int, default=512, help="lm-eval's max_gen_toks (bolt-eval's --max-new-tokens default)")
    p.set_defaults(func=cmd_export)


def cmd_export(args: argparse.Namespace) -> int:
    from bolt_eval.run_config import data_map

    names = [n.strip() for n in args.tasks.split(",") if n.strip()]
    data = data_map(args.data, names)
    for name in names:
        folder = export_task(name, Path(args.out), data.get(name), args.limit, args.thoughts, args.max_gen_toks)
        print(f"bolt-eval: wrote lm-eval task bolt_{name} into {folder}")
    return 0


def export_task(name: str, out: Path, data: str | None, limit: int | None, thoughts: str, max_gen_toks: int) -> Path:
    """Write out/bolt_<name>/ (YAML, utils.py, data.jsonl); returns the folder."""
    import os
    import shutil

    import yaml

    from bolt_eval import __version__
    from bolt_eval.benchmarks.base import select
    from bolt_eval.jsonl import read_jsonl
    from bolt_eval.lmeval.scoring import Scorer
    from bolt_eval.registry import benchmarks
    from bolt_eval.store import write_atomic
    from bolt_eval.thoughts import get_delimiters

    get_delimiters(thoughts)
    task = benchmarks.get(name)(data=data)
    if task.official_judge:
        raise UserError(f"export-lm-eval: {name} is judged by {task.official_judge}, which an lm-eval metric cannot "
                        "call; exactly-scored tasks only (math500, zebralogic)")
    rows = list(read_jsonl(data)) if data else task.official_rows()[0]
    docs = []
    for sample, (_, row) in zip(select([task.to_sample(r, p) for p, r in rows], limit), rows):
        if len(sample.turns) != 1 or sample.system or sample.history:
            raise UserError(f"export-lm-eval: {name} sample {sample.id} is not a single user turn; not exportable")
        docs.append({"id": sample.id, "prompt": task.prompt(sample, 0), "row": json.dumps(row, default=str)})
    metric = Scorer(name, thoughts).headline_name(docs[0])
    task_name = f"bolt_{name}"
    config = {
        "task": task_name, "custom_dataset": "CUSTOM", "test_split": "test", "output_type": "generate_until",
        "doc_to_text": "{{prompt}}", "doc_to_target": "{{id}}",
        "generation_kwargs": {"until": [], "max_gen_toks": max_gen_toks, "do_sample": False, "temperature": 0.0},
        "process_results": "PROCESS", "metric_list": [{"metric": metric, "aggregation": "AGG", "higher_is_better": True}],
        "num_fewshot": 0, "metadata": {"version": f"bolt-eval {name} v{task.version}"},
    }
    text = yaml.safe_dump(config, sort_keys=False, allow_unicode=True)
    for key, fn in (("CUSTOM", "utils.load_data"), ("PROCESS", "utils.process_results"), ("AGG", "utils.weighted_mean")):
        text = text.replace(f"'{key}'", f"!function {fn}").replace(key, f"!function {fn}")
    folder = out / task_name
    tmp = out / f".{task_name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    write_atomic(tmp / f"{task_name}.yaml", f"# exported by bolt-eval {__version__} from task {name}\n{text}")
    write_atomic(tmp / "utils.py", UTILS.format(name=task_name, version=__version__, task=name, thoughts=thoughts,
                                                metric=metric))
    write_atomic(tmp / "data.jsonl", "".join(json.dumps(d, ensure_ascii=False) + "\n" for d in docs))
    shutil.rmtree(folder, ignore_errors=True)
    os.replace(tmp, folder)
    return folder
