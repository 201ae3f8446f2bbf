"""`bolt-eval data perturb`: argument parsing only (the transforms live in
bolt_eval/training/perturb/; see docs/perturb.md)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from bolt_eval.training.perturb import KINDS  # light: no torch, no trl


def add_data_parsers(sub: Any) -> None:
    data = sub.add_parser("data", help="tools for SFT sets").add_subparsers(dest="data_command", required=True)
    p = data.add_parser(
        "perturb",
        help="corrupt a long-CoT SFT set as 'structure, not content' does (digits, keywords, wrong answers; "
             "shuffled, deleted, inserted steps)",
        description="Perturb the last assistant turn of each chat SFT row (JSONL of {\"messages\": [...]}) and "
                    "write the perturbed set and OUT.report.json. Kinds: " + ", ".join(KINDS) + ".")
    p.add_argument("input", metavar="IN", help="chat SFT set, JSONL")
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="perturbed set to write (JSONL)")
    p.add_argument("--kind", required=True, help=" | ".join(KINDS))
    p.add_argument("--ratio", required=True, type=float,
                   help="0..1: the chance per number / keyword / row (digits, keywords, wrong-answers) or the "
                        "share of steps (shuffle, delete, insert)")
    p.add_argument("--seed", required=True, type=int, help="same seed, same output, on any machine")
    p.add_argument("--thoughts", default="bolt", help="delimiters of thoughts and solution: bolt | think | sky-t1 | "
                                                      "none (digits and wrong-answers only); default bolt")
    p.add_argument("--pool", help="wrong-answers: stage 1's <output_dir>/bootstrap/pool.jsonl (verifier-scored samples), "
                                  "or chat rows of sampled traces each with \"correct\": true|false")
    p.add_argument("--force", action="store_true", help="overwrite OUT")
    p.set_defaults(func=cmd_perturb)


def cmd_perturb(args: argparse.Namespace) -> int:
    from bolt_eval.training.perturb import perturb_file
    from bolt_eval.types import UserError

    if args.pool and args.kind != "wrong-answers":
        raise UserError(f"--pool is read by --kind wrong-answers only, not {args.kind}; drop --pool")
    report = perturb_file(Path(args.input), Path(args.output), args.kind, args.ratio, args.seed,
                          thoughts=args.thoughts, pool=Path(args.pool) if args.pool else None, force=args.force)
    print(report.summary())
    print(f"wrote {args.output} and {args.output}.report.json", file=sys.stderr)
    return 0
