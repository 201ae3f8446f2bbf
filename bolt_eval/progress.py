"""The progress bar a run shows on stderr (tqdm, imported only when a bar is made)."""

from __future__ import annotations

import sys
from typing import Any


def progress_bar(total: int, desc: str, enabled: bool) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="gen", disable=not enabled or total == 0,
                file=sys.stderr, mininterval=1.0, dynamic_ncols=True)
