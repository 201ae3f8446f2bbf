"""The `bolt-eval run` flags of Batch API judging (judging/batch.py), kept apart so that
building the parser imports nothing of the judge."""

from __future__ import annotations

import argparse
from typing import Any

from bolt_eval.judging.batch_api import MAX_REQUESTS
from bolt_eval.types import UserError


def add_arguments(group: Any) -> None:
    group.add_argument("--judge-mode", choices=["live", "batch"], default="live",
                       help="live calls, or OpenAI Batch API jobs (half the price, results within 24 h; a killed run "
                            "re-attaches to its jobs)")
    group.add_argument("--batch-poll-interval", type=float, default=60.0, metavar="SECONDS",
                       help="seconds between polls of running batches")
    group.add_argument("--batch-parse-retries", choices=["batch", "live"], default="batch",
                       help="ask replies without a verdict again in a follow-up batch or live")
    group.add_argument("--batch-max-requests", type=int, default=MAX_REQUESTS,
                       help="requests per batch (the API allows 50000 and 200 MB; fewer keeps each job small)")
    group.add_argument("--no-wait", action="store_true",
                       help="submit (or check) the batches and stop (exit 3) while any is running; re-run later")


def settings_from_args(args: argparse.Namespace) -> Any:
    """The BatchSettings the flags ask for; None for live judging."""
    from bolt_eval.judging.batch import BatchSettings

    if args.judge_mode == "live":
        if args.no_wait:
            raise UserError("--no-wait applies to --judge-mode batch")
        return None
    if not 1 <= args.batch_max_requests <= MAX_REQUESTS:
        raise UserError(f"--batch-max-requests {args.batch_max_requests}: give 1 to {MAX_REQUESTS}")
    if args.batch_poll_interval <= 0:
        raise UserError(f"--batch-poll-interval {args.batch_poll_interval}: give a positive number of seconds")
    return BatchSettings(wait=not args.no_wait, poll_interval_s=args.batch_poll_interval,
                         parse_retries=args.batch_parse_retries, max_requests=args.batch_max_requests)
