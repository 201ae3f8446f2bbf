"""The cases of `nox -s bench`, one module each; `bench/run.py` finds them by file name.

A case is a module here (not starting with `_`) with

    TITLE: str            what it measures, one line (a heading of the markdown summary)
    ORDER: int            its place in the summary (the issue's case number)
    def run(quick: bool) -> dict

`run` returns {"rows": [{column: value, ...}, ...], "notes": [str, ...]} (the rows become a
table, the notes lines under it), or {"skipped": "why"} when it cannot run here. `quick`
shrinks every size so that the whole bench runs in seconds (tests, debugging).

Every case runs in its own subprocess, so its wall time and peak resident memory are its
own. The parent imports these modules to read TITLE and ORDER: keep top-level imports to
the standard library and import bolt_eval, torch, engines inside `run`. A case that needs
another environment (vLLM's) defines `def python() -> str` returning that interpreter.
"""
