"""Progress bars (tqdm on stderr; none when ``progress=false`` or stderr is not a
terminal: a Slurm ``.out`` file or a pipe gets log lines, not bar fragments)."""

from __future__ import annotations

import sys

from tqdm.auto import tqdm


def bars_wanted(enabled: bool = True) -> bool:
    """Progress bars only where someone watches a terminal."""
    return bool(enabled) and sys.stderr.isatty()


def bar(total: int, desc: str, enabled: bool = True):
    return tqdm(total=total, desc=desc, disable=not bars_wanted(enabled), leave=True,
                dynamic_ncols=True, mininterval=1.0)
