"""The plots are produced from a real comparison and are valid images of the expected size."""

from __future__ import annotations

import struct
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest
from conftest import cli_env
from openai_server import LoopbackServer
from run_factory import MT_IDS, grading_judge, math_run, mt_run, zebra_run

from bolt_eval import plots
from bolt_eval.comparing import collect_runs
from bolt_eval.comparing.table import compare


@pytest.fixture(scope="module")
def cmp(tmp_path_factory):
    root = tmp_path_factory.mktemp("plots") / "results"
    root.mkdir()
    with LoopbackServer(grading_judge) as server:
        for k, label in enumerate(("base", "sft", "online-1")):
            math_run(root, label, set(range(2 * k + 1)), n=6)
            zebra_run(root, label, {0: 2 - k, 6: 3 - k})
            mt_run(root, label, {q: (5 + k, 4 + k) for q in MT_IDS}, server)
    return compare(collect_runs([], root)[0])


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_every_figure_is_a_png_and_svg_of_the_expected_size(cmp, tmp_path):
    paths = plots.save_all(cmp, tmp_path / "plots")
    stems = ["bars", "trajectory", "mt_bench_radar", "zebralogic_by_size"]
    assert [p.name for p in paths] == [f"{s}.{f}" for s in stems for f in ("png", "svg")]
    expected = {"bars": (1200, 450), "trajectory": (1200, 450), "mt_bench_radar": (700, 700),
                "zebralogic_by_size": (1000, 450)}
    for stem, (w, h) in expected.items():
        assert png_size((tmp_path / "plots" / f"{stem}.png").read_bytes()) == (w, h)
        svg = ET.parse(tmp_path / "plots" / f"{stem}.svg").getroot()
        assert svg.tag == "{http://www.w3.org/2000/svg}svg"
        assert (svg.get("width"), svg.get("height")) == (f"{w * 0.72:g}pt", f"{h * 0.72:g}pt")


def test_figures_show_titles_units_and_cis(cmp):
    fig = plots.grouped_bars(cmp, size=(900, 300))
    assert png_size(plots.to_bytes(fig, "png")) == (900, 300)
    axes = fig.axes
    assert [a.get_title() for a in axes] == ["MT-Bench", "ZebraLogic", "MATH500"]
    assert [a.get_ylabel() for a in axes] == ["score (1-10)", "cell accuracy (%)", "accuracy (%)"]
    assert "95% CI" in fig._suptitle.get_text()
    heights = [round(p.get_height(), 4) for p in axes[2].patches]
    assert heights == [16.6667, 50.0, 83.3333]  # MATH500: 1, 3, 5 of 6 right
    # error bars are drawn: one line collection per bar
    assert len([c for c in axes[2].collections if c.get_segments()]) == 3
    line = plots.trajectory(cmp).axes[0].lines[0]
    assert list(line.get_ydata()) == [4.5, 5.5, 6.5]  # MT-Bench: grades 5+k and 4+k at checkpoint k


def test_reference_bars_are_hatched(cmp):
    from bolt_eval.comparing.reference import Reference, ReferenceRow, Source

    ref = Reference(name="paper", source=Source(title="t", authors="a", year=2025, url="u"),
                    rows=[ReferenceRow(label="Theirs", table="Table 1", values={"math500": 40.0})])
    with_ref = compare(collect_runs([str(c.run_dir) for c in cmp.cells.values()])[0], reference=ref)
    bars = plots.grouped_bars(with_ref).axes[2].patches
    assert [b.get_hatch() for b in bars] == [None, None, None, "//"] and bars[3].get_height() == 40.0


def test_plots_are_not_imported_by_the_cli_help():
    code = "import sys; from bolt_eval.cli import main\ntry: main(['compare', '--help'])\nexcept SystemExit: pass\n" \
           "print(sorted(m for m in ('matplotlib', 'pandas', 'torch') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=cli_env())
    assert out.stdout.strip().endswith("[]")
