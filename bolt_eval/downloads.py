"""Published files (benchmark data, official judge prompts) fetched once into the cache.

`cached(url, *parts)` returns the local copy under `$XDG_CACHE_HOME/bolt-eval/data/PARTS`,
downloading it first if need be (into a temporary name, renamed into place, so a killed
download leaves nothing half-written), or None when the URL cannot be reached: each caller
decides whether that is a fallback or an error, and says what to do.
"""

from __future__ import annotations

import urllib.request
from pathlib import Path

from bolt_eval.models import cache_dir


def cached(url: str, *parts: str, timeout: float = 30) -> Path | None:
    target = cache_dir() / "data" / Path(*parts)
    if target.is_file():
        return target
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            data = resp.read()
    except OSError:
        return None
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(target.suffix + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(target)
    return target
