"""The one progress bar every long step shows on stderr (tqdm, imported only when a bar is
made): off when not `enabled` or when there is nothing to do."""

from __future__ import annotations

import sys
from typing import Any


def progress_bar(total: int, desc: str, enabled: bool, unit: str = "gen", initial: int = 0) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, desc=desc, unit=unit, disable=not enabled or total == initial,
                file=sys.stderr, mininterval=1.0, dynamic_ncols=True)
