"""`bolt-eval gate`: a regression gate a CI job can trust.

Per benchmark, the candidate's headline minus the baseline's, with a paired (item-
clustered) bootstrap CI over the items both answered (`stats.paired_delta`). A benchmark
fails when

- `rule: drop` (default): the whole CI lies below -margin, i.e. the data show a drop
  larger than the allowed margin (a noisy small suite does not fail by chance);
- `rule: noninferior`: the CI does not rule out a drop larger than the margin (its lower
  end is below -margin), the stricter reading for large suites;
- `direction: both` adds the mirror test upwards: a change in either direction fails,
  which is what a harness's own CI wants (scoring that silently changed);
- coverage falls below a floor: judged share of judgments (`min_judged`) or share of
  answers the scorer could parse (`min_parsed`: MATH500 boxed answers, ZebraLogic JSON).

Margins are in the units tables show: percentage points for rates, raw points for scores.
Exit codes: 0 pass, 1 regression or low coverage, 2 unusable input (missing or
incomparable runs, a bad config); the CLI maps a UserError to 2.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from bolt_eval import stats
from bolt_eval.comparing import collect_runs
from bolt_eval.comparing.comparable import differences
from bolt_eval.comparing.runs import RunData, attach_items, display_name, task_order
from bolt_eval.comparing.table import paired, scale
from bolt_eval.types import UserError

# Default allowed drop per benchmark, in display units (BOLT's gains are several points).
DEFAULT_MARGIN = {"mt_bench": 0.2, "arena_hard": 2.0, "wildbench": 2.0, "zebralogic": 2.0, "math500": 2.0}
UNIT_MARGIN = {"%": 2.0, "score": 0.2}
# Share of answers the scorer could read, from a summary's metrics.
PARSED_RATE = {
    "math500": lambda m: 1.0 - float(m["no_boxed_rate"]),
    "zebralogic": lambda m: 1.0 - float(m["no_answer_rate"]),
}


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid")
    margin: float | None = None  # None: DEFAULT_MARGIN, else by unit
    rule: Literal["drop", "noninferior"] = "drop"
    direction: Literal["lower", "both"] = "lower"
    min_judged: float = 0.95
    min_parsed: float = 0.0


class GateConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    alpha: float = 0.05
    rounds: int = 2000
    seed: int = 0
    defaults: dict[str, Any] = {}
    benchmarks: dict[str, dict[str, Any]] = {}

    def rule(self, task: str) -> Rule:
        try:
            return Rule.model_validate({**self.defaults, **self.benchmarks.get(task, {})})
        except ValidationError as err:
            first = err.errors()[0]
            raise UserError(f"gate config: benchmarks.{task}.{'.'.join(map(str, first['loc']))}: {first['msg']}") from err


def load_config(path: str | Path | None) -> GateConfig:
    if path is None:
        return GateConfig()
    import yaml

    p = Path(path)
    if not p.is_file():
        raise UserError(f"--config {p}: no such file")
    try:
        return GateConfig.model_validate(yaml.safe_load(p.read_text(encoding="utf-8")) or {})
    except yaml.YAMLError as err:
        raise UserError(f"{p}: not valid YAML ({err})") from err
    except ValidationError as err:
        first = err.errors()[0]
        raise UserError(f"{p}: field {'.'.join(map(str, first['loc']))!r}: {first['msg']} "
                        "(fields: alpha, rounds, seed, defaults, benchmarks.TASK.{margin, rule, direction, "
                        "min_judged, min_parsed})") from err


@dataclass
class Check:
    task: str
    unit: str
    baseline: float
    candidate: float
    delta: stats.Estimate
    rule: Rule
    margin: float
    judged: float | None
    parsed: float | None
    failures: list[str] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        if self.failures:
            return "FAIL"
        return "skipped (no values)" if math.isnan(self.delta.mean) else "pass"


@dataclass
class GateResult:
    checks: list[Check]
    notes: list[str]
    alpha: float

    @property
    def exit_code(self) -> int:
        return 1 if any(c.failures for c in self.checks) else 0


def _one_per_task(runs: list[RunData], side: str) -> dict[str, RunData]:
    out: dict[str, RunData] = {}
    for r in runs:
        if r.task in out:
            raise UserError(f"--{side}: two runs of {r.task} ({out[r.task].dir} and {r.dir}); pass one run per benchmark")
        out[r.task] = r
    return out


def gate(baseline: list[str], candidate: list[str], config: GateConfig) -> GateResult:
    base = _one_per_task(collect_runs(baseline, with_items=False)[0], "baseline")
    cand = _one_per_task(collect_runs(candidate, with_items=False)[0], "candidate")
    missing = sorted(set(base) - set(cand))
    if missing:
        raise UserError(f"--candidate has no run of {', '.join(missing)} (the baseline has); evaluate it first")
    notes = [f"{t}: not gated, the baseline has no run of it" for t in sorted(set(cand) - set(base))]
    for t in base:  # per-item values only for the benchmarks gated
        attach_items(base[t])
        attach_items(cand[t])
    problems = [f"{t}: {d}" for t in task_order(set(base)) for d in differences([base[t], cand[t]])]
    if problems:
        raise UserError("baseline and candidate differ in more than the model, so the gate cannot compare them:\n  "
                        + "\n  ".join(problems) + "\nre-run the candidate alike, or refresh the baseline "
                        "(a deliberate scoring change: see README, 'Comparing runs and the regression gate')")
    checks = [_check(t, base[t], cand[t], config) for t in task_order(set(base))]
    notes += [f"{t}: Δ's CI includes the judge's noise (items, then its repeats: two-level bootstrap)"
              for t in task_order(set(base)) if base[t].variants or cand[t].variants]
    notes += [f"{t}: Δ is on {cand[t].paired_metric} (the headline is not an item mean)"
              for t in task_order(set(base)) if cand[t].paired_metric]
    return GateResult(checks, notes, config.alpha)


def _check(task: str, base: RunData, cand: RunData, config: GateConfig) -> Check:
    for run in (base, cand):
        if run.no_items:
            raise UserError(f"{run.dir}: {task} cannot be gated: {run.no_items}")
    rule = config.rule(task)
    k = scale(cand.unit)
    margin = rule.margin if rule.margin is not None else DEFAULT_MARGIN.get(task, UNIT_MARGIN.get(cand.unit, 2.0))
    delta = paired(base, cand, config.rounds, config.seed, config.alpha)
    cov = cand.summary.get("coverage")
    parsed = _parsed_rate(task, cand)
    check = Check(task, cand.unit, _f(base.headline["mean"]) * k, _f(cand.headline["mean"]) * k, delta, rule, margin,
                  cov["rate"] if cov else None, parsed)
    if not math.isnan(delta.mean):
        low_end, high_end = (delta.hi, delta.lo) if rule.rule == "drop" else (delta.lo, delta.hi)
        if low_end < -margin - 1e-12:
            check.failures.append(f"regression: Δ {delta.mean:+.3g} [{delta.lo:+.3g}, {delta.hi:+.3g}] "
                                  + ("lies below" if rule.rule == "drop" else "does not rule out a drop beyond")
                                  + f" -{margin:g}")
        if rule.direction == "both" and high_end > margin + 1e-12:
            check.failures.append(f"changed: Δ {delta.mean:+.3g} [{delta.lo:+.3g}, {delta.hi:+.3g}] "
                                  + ("lies above" if rule.rule == "drop" else "reaches beyond") + f" +{margin:g}")
    if check.judged is not None and check.judged < rule.min_judged - 1e-12:
        check.failures.append(f"low coverage: {cov['judged']}/{cov['total']} judged ({check.judged:.0%}) "
                              f"< min_judged {rule.min_judged:.0%} (by status: {cov.get('by_status')})")
    if parsed is not None and parsed < rule.min_parsed - 1e-12:
        check.failures.append(f"low coverage: {parsed:.0%} of answers parsed < min_parsed {rule.min_parsed:.0%}")
    return check


def _parsed_rate(task: str, run: RunData) -> float | None:
    """Share of answers the scorer could read, for tasks that report it."""
    if task not in PARSED_RATE:
        return None
    try:
        return PARSED_RATE[task](run.summary["metrics"])
    except (KeyError, TypeError, ValueError) as err:
        raise UserError(f"{run.dir / 'summary.json'}: metrics lack the parse rate ({err}); "
                        "re-run the same command to re-aggregate it") from err


def _f(x: Any) -> float:
    return float("nan") if x is None else float(x)


def _num(x: float, unit: str, sign: bool = False) -> str:
    if math.isnan(x):
        return "n/a"
    return f"{x:+.{1 if unit == '%' else 2}f}" if sign else f"{x:.{1 if unit == '%' else 2}f}"


def to_markdown(result: GateResult) -> str:
    from tabulate import tabulate

    failed = [c for c in result.checks if c.failures]
    level = round(100 * (1 - result.alpha))
    rows = []
    for c in result.checks:
        d = c.delta
        rows.append([display_name(c.task) + (" (%)" if c.unit == "%" else ""), _num(c.baseline, c.unit),
                     _num(c.candidate, c.unit),
                     f"{_num(d.mean, c.unit, True)} [{_num(d.lo, c.unit, True)}, {_num(d.hi, c.unit, True)}]",
                     f"{c.rule.rule}, margin {c.margin:g}" + (", both ways" if c.rule.direction == "both" else ""),
                     "-" if c.judged is None else f"{c.judged:.0%}", "-" if c.parsed is None else f"{c.parsed:.0%}",
                     c.verdict])
    head = f"## bolt-eval gate: {'FAIL' if failed else 'PASS'}"
    head += f" ({len(failed)} of {len(result.checks)} benchmarks)" if failed else f" ({len(result.checks)} benchmarks)"
    table = tabulate(rows, headers=["benchmark", "baseline", "candidate", f"Δ [{level}% paired CI]", "rule",
                                    "judged", "parsed", "verdict"], tablefmt="github", disable_numparse=True)
    lines = [head, "", table, ""]
    lines += [f"- **{display_name(c.task)}**: {f}" for c in failed for f in c.failures]
    lines += [f"- {n}" for n in result.notes]
    lines.append(f"- Δ: candidate minus baseline, paired bootstrap over shared items ({level}% CI).")
    return "\n".join(lines) + "\n"


def to_junit(result: GateResult) -> str:
    """JUnit XML: one test case per benchmark, a <failure> per failed check."""
    import xml.etree.ElementTree as ET

    failed = sum(bool(c.failures) for c in result.checks)
    suite = ET.Element("testsuite", name="bolt-eval gate", tests=str(len(result.checks)), failures=str(failed),
                       errors="0", skipped=str(sum(c.verdict.startswith("skipped") for c in result.checks)))
    for c in result.checks:
        case = ET.SubElement(suite, "testcase", classname="bolt_eval.gate", name=c.task)
        d = c.delta
        ET.SubElement(case, "system-out").text = (f"baseline {c.baseline:.6g} candidate {c.candidate:.6g} "
                                                  f"delta {d.mean:.6g} [{d.lo:.6g}, {d.hi:.6g}] margin {c.margin:g}")
        if c.failures:
            ET.SubElement(case, "failure", message="; ".join(c.failures), type="regression").text = "\n".join(c.failures)
        elif c.verdict.startswith("skipped"):
            ET.SubElement(case, "skipped", message="no item has a value on either side")
    root = ET.Element("testsuites")
    root.append(suite)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"
