"""`bolt-eval compare` on real run folders with known scores: the table's cells, paired
deltas and their CIs (hand-computed), refusal of mixed runs, formats, reference rows,
filters and errors."""

from __future__ import annotations

import io
import json
import math

import numpy as np
import pytest
from conftest import bolt
from openai_server import LoopbackServer
from run_factory import MT_IDS, grading_judge, math_run, mt_run, zebra_run

from bolt_eval.cli import main
from bolt_eval.comparing import Filters, collect_runs
from bolt_eval.comparing.reference import load_reference
from bolt_eval.comparing.render import cell_text, headline_table, to_text
from bolt_eval.comparing.table import compare
from bolt_eval.stats import paired_delta
from bolt_eval.types import UserError

Q = MT_IDS
# MT-Bench grades per question (turn 1, turn 2); 0 = the judge gives no verdict.
MT = {"ckpt-a": {Q[0]: (8, 6), Q[1]: (10, 0), Q[2]: (9, 7), Q[3]: (5, 3)},   # 48 / 7 judged
      "ckpt-b": {Q[0]: (9, 7), Q[1]: (10, 5), Q[2]: (9, 8), Q[3]: (6, 4)},   # 58 / 8
      "ckpt-c": {Q[0]: (8, 6), Q[1]: (10, 0), Q[2]: (9, 7), Q[3]: (5, 3)}}


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    """Three checkpoints on MATH500 (6 problems), ZebraLogic (8 puzzles, 50 cells) and
    MT-Bench (4 questions, one judge), plus a fourth judged by another judge."""
    root = tmp_path_factory.mktemp("cmp") / "results"
    root.mkdir()
    for label, right in (("ckpt-a", {0, 1}), ("ckpt-b", {0, 1, 2, 3}), ("ckpt-c", {0, 1, 2, 3, 4, 5})):
        math_run(root, label, right)
    # cells per puzzle: 4 4 6 6 6 6 9 9; ckpt-a misses 1 + 2 cells, ckpt-c all 9 of puzzle 6
    for label, wrong in (("ckpt-a", {0: 1, 3: 2}), ("ckpt-b", {}), ("ckpt-c", {6: 9})):
        zebra_run(root, label, wrong)
    with LoopbackServer(grading_judge) as server:
        for label, grades in MT.items():
            mt_run(root, label, grades, server)
        mt_run(root.parent / "other", "ckpt-d", MT["ckpt-b"], server, judge_model="judge-y")
    return root


@pytest.fixture(scope="module")
def cmp(root):
    runs, _ = collect_runs([], root)
    return compare(runs)


def test_rows_columns_and_headlines(cmp):
    assert cmp.labels == ["ckpt-a", "ckpt-b", "ckpt-c"]  # the order they were evaluated in
    assert cmp.tasks == ["mt_bench", "zebralogic", "math500"]  # the paper's order
    mean = {k: round(c.mean, 4) for k, c in cmp.cells.items()}
    assert mean[("ckpt-a", "math500")] == 33.3333 and mean[("ckpt-c", "math500")] == 100.0
    assert mean[("ckpt-a", "zebralogic")] == 94.0  # 47/50 cells: a micro average
    assert mean[("ckpt-c", "zebralogic")] == 82.0  # 41/50
    assert mean[("ckpt-a", "mt_bench")] == round(48 / 7, 4) and mean[("ckpt-b", "mt_bench")] == 7.25
    assert cmp.cells[("ckpt-a", "mt_bench")].judged == (7, 8)
    assert cmp.judges == {"mt_bench": "judge-x (substitute)"}


def test_paired_deltas_hand_computed(cmp):
    d = {k: c.delta for k, c in cmp.cells.items()}
    assert d[("ckpt-a", "math500")] is None  # the baseline
    # MATH500 b - a: items differ on 2 of 6 (0 -> 1). The delta is 2/6; a draw misses both
    # changed items with p = (4/6)^6 = 8.8% > 2.5%, so the lower end is exactly 0; >= 5 of 6
    # draws changed has p = 1.8% < 2.5% <= p(>= 4) = 10%, so the upper end is 4/6.
    assert (round(d[("ckpt-b", "math500")].mean, 4), d[("ckpt-b", "math500")].lo,
            round(d[("ckpt-b", "math500")].hi, 4)) == (33.3333, 0.0, 66.6667)
    assert round(d[("ckpt-c", "math500")].mean, 4) == 66.6667
    # ZebraLogic: the delta of micro averages (+3/50 and -6/50 cells), not of puzzle means
    # (which would give +7.3 and -5.2): the ratio is recomputed per bootstrap round.
    assert round(d[("ckpt-b", "zebralogic")].mean, 4) == 6.0
    assert round(d[("ckpt-c", "zebralogic")].mean, 4) == -12.0
    assert d[("ckpt-b", "zebralogic")].lo >= 0.0  # no puzzle got worse
    # c vs a: puzzle 6 loses 9 cells, puzzles 0 and 3 gain 3; a round's delta is
    # (cells gained - lost) / cells drawn, between -100 (only puzzle 6) and +25 (only puzzle 0)
    assert -100.0 <= d[("ckpt-c", "zebralogic")].lo < -12.0 < d[("ckpt-c", "zebralogic")].hi <= 25.0
    # MT-Bench: 58/8 - 48/7; identical grades give a zero-width interval
    assert round(d[("ckpt-b", "mt_bench")].mean, 4) == round(58 / 8 - 48 / 7, 4)
    assert (d[("ckpt-c", "mt_bench")].mean, d[("ckpt-c", "mt_bench")].lo, d[("ckpt-c", "mt_bench")].hi) == (0, 0, 0)


def test_paired_ci_against_hand_computed_cases():
    # a constant shift: every round sees the same difference, the interval has no width,
    # although each run alone varies widely
    base = [0.2, 0.5, 0.9, 0.4]
    est = paired_delta((base, [1] * 4), ([v + 0.1 for v in base], [1] * 4))
    assert (round(est.mean, 12), round(est.lo, 12), round(est.hi, 12), est.n) == (0.1, 0.1, 0.1, 4)
    # two items, differences 0 and 1: a round's delta is 0, 0.5 or 1 with p 1/4, 1/2, 1/4,
    # so the 95% interval is [0, 1]
    est = paired_delta(([0, 0], [1, 1]), ([0, 1], [1, 1]), rounds=2000)
    assert (est.mean, est.lo, est.hi) == (0.5, 0.0, 1.0)
    # a micro average: items weigh 4 and 16 cells; base 4/20 right, candidate 12/20. Rounds
    # give 0 (item 1 twice), 0.5 (item 2 twice) or 0.4 (one of each): interval [0, 0.5]
    est = paired_delta(([1.0, 0.0], [4, 16]), ([1.0, 0.5], [4, 16]), rounds=2000)
    assert (round(est.mean, 12), est.lo, est.hi) == (0.4, 0.0, 0.5)
    # unjudged items (NaN, weight 0) leave both sides' denominators
    est = paired_delta(([float("nan"), 4.0], [0, 2]), ([6.0, 5.0], [1, 2]))
    assert round(est.mean, 12) == round((6 + 10) / 3 - 4.0, 12)


def test_paired_interval_is_narrower_than_independent_ones():
    rng = np.random.default_rng(1)
    base = rng.random(200)
    cand = np.clip(base + rng.normal(0.03, 0.02, 200), 0, 1)
    est = paired_delta((base, np.ones(200)), (cand, np.ones(200)))
    assert est.lo > 0 and est.hi - est.lo < 0.01  # independent 95% CIs of the two means are ~0.08 wide each


def test_markdown_table_cells(cmp):
    table = headline_table(cmp, "markdown")
    a, b, c = (next(line for line in table.splitlines() if line.startswith(f"| {x}")) for x in
               ("ckpt-a (baseline)", "ckpt-b", "ckpt-c"))
    assert "| 33.3 [0.0, 66.7] " in a and "6.86 [" in a and "judged 7/8" in a
    assert "66.7 [33.3, 100.0] Δ +33.3 [+0.0, +66.7]" in b
    assert "100.0 [100.0, 100.0] Δ +6.0 [" in b and "7.25 [" in b and "Δ +0.39 [" in b
    assert "82.0 [" in c and "Δ -12.0 [" in c and "Δ +0.00 [+0.00, +0.00] judged 7/8" in c
    text = to_text(cmp, "markdown")
    assert "### ZebraLogic: cell accuracy (%) by size" in text and "### MATH500: accuracy (%) by subject" in text
    sizes = [line.split("|")[1].strip() for line in text.split("by size")[1].splitlines()[4:8]]
    assert sizes == ["2*2", "2*3", "3*2", "3*3"]  # by cell count, then houses


def test_mixed_judges_are_refused_with_the_differences(root):
    runs, _ = collect_runs([str(root), str(root.parent / "other")], rows=["ckpt-a", "ckpt-b", "ckpt-d"])
    with pytest.raises(UserError) as err:
        compare(runs)
    msg = str(err.value)
    assert "refusing to compare runs that differ in more than the model" in msg
    assert "mt_bench: judge (judge.model): openai:judge-x (ckpt-a, ckpt-b) vs openai:judge-y (ckpt-d)" in msg
    assert "--allow-mixed" in msg
    mixed = compare(runs, allow_mixed=True)
    assert mixed.cells[("ckpt-d", "mt_bench")].mixed and not mixed.cells[("ckpt-b", "mt_bench")].mixed
    assert cell_text(mixed.cells[("ckpt-d", "mt_bench")]).endswith("†")
    assert any(n.startswith("† mixed: mt_bench: judge (judge.model)") for n in mixed.notes)
    assert mixed.judges["mt_bench"] == "judge-x (substitute); judge-y (substitute)"


def test_other_sampling_is_refused(tmp_path):
    root = tmp_path / "results"
    math_run(root, "short", {0}, n=3, max_new_tokens=256)
    math_run(root, "long", {0, 1}, n=3)
    with pytest.raises(UserError, match=r"math500: sampling params \(sampling\): {\"max_new_tokens\": 256} \(short\) vs {\"max_new_tokens\": 512} \(long\)"):
        compare(collect_runs([], root)[0])


def cli(capsys, *args):
    """`bolt-eval ARGS` in this process (the subprocess path is tested below): (code, out, err)."""
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_formats(root, tmp_path, capsys):
    args = ["compare", "--root", str(root), "--baseline", "ckpt-b"]
    code, out, err = cli(capsys, *args, "--format", "csv")
    assert code == 0, err
    import pandas as pd

    df = pd.read_csv(io.StringIO(out))
    head = df[df.kind == "headline"].set_index(["model", "task"])
    assert head.loc[("ckpt-c", "zebralogic"), "delta"] == pytest.approx(-18.0)  # 41/50 - 50/50
    assert head.loc[("ckpt-b", "math500"), "baseline"] and math.isnan(head.loc[("ckpt-b", "math500"), "delta"])
    assert set(df.kind) == {"headline", "by_subject", "by_level", "by_bucket", "by_size", "by_turn", "by_category"}

    data = json.loads(cli(capsys, *args, "--format", "json")[1])
    assert data["baseline"] == "ckpt-b" and data["tasks"] == ["mt_bench", "zebralogic", "math500"]
    row = next(r for r in data["rows"] if r["model"] == "ckpt-a" and r["task"] == "mt_bench" and r["kind"] == "headline")
    assert (row["judged"], row["total"], row["mean"]) == (7, 8, pytest.approx(48 / 7, abs=1e-5))

    page = tmp_path / "report.html"
    code, _, err = cli(capsys, *args, "--format", "html", "--output", str(page))
    assert code == 0 and f"wrote {page}" in err
    html = page.read_text()
    assert html.count("<img alt=") == 4 and "src='data:image/png;base64,iVBORw0KGgo" in html
    assert "<table>" in html and "ckpt-b (baseline)" in html

    term = cli(capsys, *args, "--no-breakdowns")[1]
    assert "ckpt-a" in term and "Δ -33.3 [" in term and "by size" not in term


def test_reference_rows_beside_the_users(cmp, root, tmp_path):
    (tmp_path / "paper.yaml").write_text(
        "source: {title: A paper, authors: A. Author, year: 2025, url: 'https://example.org/p'}\n"
        "rows:\n  - {label: Their-8B, table: Table 9, values: {arena_hard: 12.5, mt_bench: 7.5}}\n")
    ref = load_reference("paper", tmp_path)
    runs, _ = collect_runs([], root)
    out = compare(runs, reference=ref)
    assert out.tasks == ["mt_bench", "arena_hard", "zebralogic", "math500"]
    label = "Their-8B [reference: paper, Table 9]"
    assert out.references == [label] and out.cells[(label, "arena_hard")].mean == 12.5
    row = next(line for line in headline_table(out).splitlines() if line.startswith(f"| {label}"))
    assert "| 7.50 " in row and "| 12.5 " in row and "Δ" not in row
    assert any("A. Author (2025)" in n and "not produced by this harness" in n for n in out.notes)
    bad = tmp_path / "bad.yaml"
    bad.write_text("source: {title: x, authors: y, year: 2025, url: z}\nrows:\n  - {label: m, values: {a: 1}}\n")
    with pytest.raises(UserError, match=r"bad.yaml: field 'rows.0.table': Field required"):
        load_reference("bad", tmp_path)


def test_committed_paper_reference_is_cited(cmp, root, capsys):
    ref = load_reference("bolt-paper")
    assert ref.source.arxiv == "2502.03860" and "Pang" in ref.source.authors
    code, out, err = cli(capsys, "compare", "--root", str(root), "--reference", "bolt-paper", "--format", "markdown")
    assert code == 0, err
    assert "2502.03860" in out


def test_filters_rows_and_suite(root):
    runs, _ = collect_runs([], root, Filters(model="ckpt-[ab]", tasks=("math500",)))
    assert [(r.label, r.task) for r in runs] == [("ckpt-a", "math500"), ("ckpt-b", "math500")]
    runs, _ = collect_runs([], root, rows=["ckpt-c", "ckpt-a"])
    assert list(dict.fromkeys(r.label for r in runs)) == ["ckpt-c", "ckpt-a"]
    # the smoke suite runs MATH500 on the same fixture file, ZebraLogic and MT-Bench on theirs
    runs, _ = collect_runs([], root, Filters(suite="smoke"))
    assert {r.task for r in runs} == {"math500", "zebralogic", "mt_bench"}


def test_bad_input_names_the_place_and_the_fix(root, tmp_path, capsys):
    out = bolt("compare", str(tmp_path / "nope"))  # as a user runs it: a process and its exit code
    assert out.returncode == 2 and "nope: no such run folder" in out.stderr and "Traceback" not in out.stderr
    code, _, err = cli(capsys, "compare", "--root", str(root), "--baseline", "ckpt-z")
    assert code == 2 and "--baseline 'ckpt-z' is not among the compared models: ckpt-a, ckpt-b, ckpt-c" in err
    # a summary that no longer matches its samples is named, with the fix
    import shutil

    [src] = root.glob("ckpt-b--math500--*")
    stale = tmp_path / "stale" / src.name
    shutil.copytree(src, stale)
    summary = json.loads((stale / "summary.json").read_text())
    summary["headline"]["mean"] = summary["metrics"]["accuracy"]["mean"] = 0.5
    (stale / "summary.json").write_text(json.dumps(summary))
    code, _, err = cli(capsys, "compare", str(stale))
    assert code == 2 and "summary.json says accuracy = 0.5 but samples.jsonl gives 0.666667" in err
    assert "re-run the same command" in err
    # two runs of one model on one task
    dup = tmp_path / "dup"
    shutil.copytree(src, dup / "x")
    shutil.copytree(src, dup / "y")
    code, _, err = cli(capsys, "compare", str(dup / "x"), str(dup / "y"))
    assert code == 2 and "two runs of model 'ckpt-b' on math500" in err


def test_a_task_without_item_values_gets_no_delta_and_a_note(root):
    runs, _ = collect_runs([], root, Filters(tasks=("math500",)))
    runs[1].no_items = "math500 has no item_values"
    out = compare(runs)
    assert out.cells[("ckpt-b", "math500")].delta is None and out.cells[("ckpt-c", "math500")].delta is not None
    assert "math500: no paired deltas (math500 has no item_values)" in out.notes
