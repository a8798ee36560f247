"""Progress bars (tqdm on stderr; silent when ``progress=false`` or not a terminal
and CI asks for quiet)."""

from __future__ import annotations

from tqdm.auto import tqdm


def bar(total: int, desc: str, enabled: bool = True):
    return tqdm(total=total, desc=desc, disable=not enabled, leave=True, dynamic_ncols=True,
                mininterval=1.0)
