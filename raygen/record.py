"""The record file: one ``"iter stage"`` line per finished stage (DP-GEN's record.dpgen).

Stages 0-8 of an iteration are make/run/post of train, model_devi and fp. A run
resumes at the stage after the last complete line; a torn last line (the process
died mid-write) is ignored.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from raygen.atomic import append_line

STAGES = ("make_train", "run_train", "post_train",
          "make_model_devi", "run_model_devi", "post_model_devi",
          "make_fp", "run_fp", "post_fp")
N_STAGES = len(STAGES)


def last_record(path: Path) -> Optional[tuple[int, int]]:
    """(iteration, stage) of the last well-formed line, or None for a new run."""
    if not Path(path).exists():
        return None
    last = None
    for line in Path(path).read_text().splitlines():
        parts = line.split()
        if len(parts) == 2 and all(p.isdigit() for p in parts):
            ii, jj = int(parts[0]), int(parts[1])
            if 0 <= jj < N_STAGES:
                last = (ii, jj)
    return last


def resume_point(path: Path) -> tuple[int, int]:
    """The (iteration, stage) to run next."""
    last = last_record(path)
    if last is None:
        return 0, 0
    ii, jj = last
    return (ii + 1, 0) if jj == N_STAGES - 1 else (ii, jj + 1)


def record_stage(path: Path, ii: int, jj: int) -> None:
    append_line(Path(path), f"{ii} {jj}")
