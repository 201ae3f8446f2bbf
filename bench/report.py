"""The markdown summary of a bench record (bench/run.py writes it beside the JSON and the
README quotes it): the machine, one line per case (wall time, peak RSS), then each case's
table and notes. Standard library only, like run.py."""

from __future__ import annotations

from typing import Any


def fmt(value: Any) -> str:
    """Numbers to three or so significant digits, without scientific notation."""
    if isinstance(value, bool) or not isinstance(value, float):
        return "" if value is None else str(value)
    size = abs(value)
    if size >= 100 or value.is_integer():
        return f"{value:,.0f}"
    return f"{value:.1f}" if size >= 10 else f"{value:.2f}" if size >= 0.1 or size == 0 else f"{value:.3g}"


def table(rows: list[dict[str, Any]]) -> list[str]:
    """A GitHub markdown table; columns are the keys of the rows in first-seen order."""
    columns = list(dict.fromkeys(k for r in rows for k in r))
    lines = ["| " + " | ".join(c.replace("_", " ") for c in columns) + " |",
             "|" + "|".join("---" for _ in columns) + "|"]
    lines += ["| " + " | ".join(fmt(r.get(c)) for c in columns) + " |" for r in rows]
    return lines


def machine_line(m: dict[str, Any]) -> str:
    pkgs = ", ".join(f"{k} {v}" for k, v in m["packages"].items() if v)
    load = f"load average {m['load_average_before'][0]:.1f} before, {m['load_average_after'][0]:.1f} after"
    return (f"{m['cpu_count']} x {m['cpu_model']}, {m['ram_gib']} GiB RAM; Python {m['python']}, {pkgs}; "
            f"git {m['git_sha'][:10]}{' (uncommitted changes)' if m['git_dirty'] else ''}; {load}")


def markdown(record: dict[str, Any]) -> str:
    cases = record["cases"]
    out = [f"# bolt-eval bench, {record['date']}{' (quick mode: sizes shrunk, figures not meaningful)' if record['quick'] else ''}",
           "", f"Machine: {machine_line(record['machine'])}.", "",
           f"Total wall time {fmt(record['total_wall_s'])} s. Peak RSS: the largest process of each case's tree.", ""]
    out += table([{"case": c["title"], "wall_s": c["wall_s"], "peak_RSS_MiB": c["peak_rss_mib"],
                   "status": c.get("error") or (f"skipped: {c['skipped']}" if "skipped" in c else "ok")}
                  for c in cases.values()])
    for c in cases.values():
        if c.get("rows"):
            out += ["", f"## {c['title']}", "", *table(c["rows"])]
            if c.get("notes"):
                out += ["", *(f"- {n}" for n in c["notes"])]
    return "\n".join(out) + "\n"
