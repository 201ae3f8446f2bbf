"""`nox -s bench`: run the performance cases in bench/cases/ and write the record.

    python bench/run.py [--cases judging,zebralogic] [--quick] [--out bench/results]

Each case runs in its own subprocess (the interpreter its module names, this one by
default), so its wall time and peak resident memory are its own: the peak is the
`ru_maxrss` that `os.wait4` reports for that child, i.e. the largest single process of the
case's tree. The record goes to `<out>/<date>.json` and `<out>/<date>.md` (a subset of
cases adds their names, quick mode `-quick`), with the machine it was taken on.

This module imports only the standard library: it is also the child's entry point
(`--child NAME --result FILE`), which may run in another environment (vLLM's).
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

from report import markdown

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent


def discover() -> dict[str, ModuleType]:
    """The case modules by name, in ORDER (see bench/cases/__init__.py)."""
    sys.path.insert(0, str(BENCH))
    mods = [importlib.import_module(f"cases.{p.stem}") for p in sorted((BENCH / "cases").glob("*.py"))
            if not p.stem.startswith("_")]
    return {m.__name__.split(".")[-1]: m for m in sorted(mods, key=lambda m: m.ORDER)}


def run_case(name: str, mod: ModuleType, quick: bool) -> dict[str, Any]:
    """Run one case in a child process; its result plus wall time, peak RSS and exit code."""
    python = mod.python() if hasattr(mod, "python") else sys.executable
    if not Path(python).is_file():
        return {"title": mod.TITLE, "skipped": f"its interpreter {python} does not exist", "wall_s": 0.0,
                "peak_rss_mib": None}
    with tempfile.TemporaryDirectory() as tmp:
        result_file = Path(tmp) / "result.json"
        cmd = [python, str(Path(__file__).resolve()), "--child", name, "--result", str(result_file)]
        print(f"bench: {name} ...", file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd + (["--quick"] if quick else []), cwd=ROOT)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - t0
        result = json.loads(result_file.read_text()) if result_file.is_file() else {}
    if proc.returncode != 0:
        result["error"] = f"exit code {proc.returncode} (its output is above)"
    result.update(title=mod.TITLE, wall_s=round(wall, 2), peak_rss_mib=round(usage.ru_maxrss / 1024, 1))
    print(f"bench: {name} done in {wall:.1f} s", file=sys.stderr, flush=True)
    return result


def child(name: str, result_file: str, quick: bool) -> None:
    sys.path.insert(0, str(BENCH))
    mod = importlib.import_module(f"cases.{name}")
    Path(result_file).write_text(json.dumps(mod.run(quick)))


def _read(path: str, prefix: str) -> str | None:
    try:
        return next(line.split(":", 1)[1].strip() for line in Path(path).read_text().splitlines()
                    if line.startswith(prefix))
    except (OSError, StopIteration):
        return None


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout.strip()


def machine() -> dict[str, Any]:
    """What the figures were taken on: they hold for this machine only."""
    from importlib.metadata import PackageNotFoundError, version

    versions = {}
    for pkg in ("torch", "transformers", "openai", "numpy", "scikit-learn"):
        try:
            versions[pkg] = version(pkg)
        except PackageNotFoundError:
            versions[pkg] = None
    mem = _read("/proc/meminfo", "MemTotal")
    return {
        "cpu_count": os.cpu_count(),
        "cpu_model": _read("/proc/cpuinfo", "model name"),
        "ram_gib": round(int(mem.split()[0]) / 2**20, 1) if mem else None,
        "python": sys.version.split()[0],
        "packages": versions,
        "git_sha": _git("rev-parse", "HEAD"),
        "git_dirty": bool(_git("status", "--porcelain", "--untracked-files=no")),
        "load_average_before": list(os.getloadavg()),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cases", help="comma-separated case names (default: all)")
    ap.add_argument("--quick", action="store_true", help="shrink every case (seconds, not minutes)")
    ap.add_argument("--out", default=str(BENCH / "results"))
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--result", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child, args.result, args.quick)
        return 0
    cases = discover()
    names = args.cases.split(",") if args.cases else list(cases)
    unknown = [n for n in names if n not in cases]
    if unknown:
        ap.error(f"unknown case(s) {', '.join(unknown)}; cases: {', '.join(cases)}")
    record: dict[str, Any] = {"date": dt.date.today().isoformat(), "quick": args.quick, "machine": machine()}
    t0 = time.perf_counter()
    record["cases"] = {n: run_case(n, cases[n], args.quick) for n in names}
    record["total_wall_s"] = round(time.perf_counter() - t0, 1)
    record["machine"]["load_average_after"] = list(os.getloadavg())

    stem = record["date"] + ("-" + "+".join(names) if args.cases else "") + ("-quick" if args.quick else "")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{stem}.json").write_text(json.dumps(record, indent=1) + "\n")
    (out / f"{stem}.md").write_text(markdown(record))
    print(markdown(record))
    print(f"bench: wrote {out / stem}.json and .md", file=sys.stderr)
    return 1 if any("error" in c for c in record["cases"].values()) else 0


if __name__ == "__main__":
    sys.exit(main())
