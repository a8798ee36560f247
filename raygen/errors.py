"""Errors a user reads: one line that says what failed, where its log is and what
to do. The command line prints them as ``raygen: ...`` without a traceback (the
traceback goes to ``raygen.log``)."""

from __future__ import annotations


class RunError(RuntimeError):
    """A run cannot go on (all MD tasks failed, a training crashed, a cluster
    cannot be reached, ...); finished work is kept."""


NO_SPACE = "No space left on device"


def no_space(where, log_text: str = "") -> str | None:
    """"no space left on device in <dir> ..." when the file system holding ``where`` is
    full (or ``log_text`` says so), else None: a full disk is said as such, not as a
    program that failed."""
    import os
    import shutil

    path = os.path.abspath(str(where))
    while not os.path.exists(path) and path != os.path.dirname(path):
        path = os.path.dirname(path)
    try:
        free = shutil.disk_usage(path).free
    except OSError:
        free = None
    if NO_SPACE not in log_text and (free is None or free > 16 * 2**20):
        return None
    free_text = f"{free / 2**20:.0f} MB free" if free is not None else "free space unknown"
    return (f"no space left on device in {path} ({free_text}); free some space there and "
            "run the same command to resume")
