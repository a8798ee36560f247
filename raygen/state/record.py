"""The record file: one ``"iter step"`` line per finished step (DP-GEN's record.dpgen).

Step ``j`` is ``STEP_NAMES[j]`` (make/run/post of train, model_devi and fp; the
functions that run them are :data:`raygen.steps.table.STEPS`, in the same order). The
names are data here so that a viewer of a run directory (``raygen.report``) can name
the steps without importing them (and with them Ray and deepmd-kit). A run resumes
at the step after the last complete line; a torn last line
(the process died mid-write) is ignored.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from raygen.atomic import append_line

# DP-GEN's names for the three phases (its folders 00.train, 01.model_devi, 02.fp)
PHASES = ("train", "model_devi", "fp")

# the nine steps of an iteration, in the order they run; their index is the record's
STEP_NAMES: tuple[str, ...] = tuple(f"{kind}_{phase}" for phase in PHASES
                                    for kind in ("make", "run", "post"))


def step_phase(jj: int) -> str:
    """The phase of step ``jj``."""
    return STEP_NAMES[jj].split("_", 1)[1]


def phase_steps(phase: str) -> list[int]:
    """Indices (in STEP_NAMES and in the record) of the steps of ``phase``."""
    return [j for j in range(len(STEP_NAMES)) if step_phase(j) == phase]


def phase_seconds(timings: dict[str, float]) -> dict[str, float]:
    """Wall time of each phase from per-step timings (keyed by step name)."""
    return {p: sum(timings.get(STEP_NAMES[j], 0.0) for j in phase_steps(p)) for p in PHASES}


def last_record(path: Path, n_steps: int) -> Optional[tuple[int, int]]:
    """(iteration, step) of the last well-formed line, or None for a new run."""
    if not Path(path).exists():
        return None
    last = None
    for line in Path(path).read_text().splitlines():
        parts = line.split()
        if len(parts) == 2 and all(p.isdigit() for p in parts):
            ii, jj = int(parts[0]), int(parts[1])
            if 0 <= jj < n_steps:
                last = (ii, jj)
    return last


def resume_point(path: Path, n_steps: int) -> tuple[int, int]:
    """The (iteration, step) to run next."""
    last = last_record(path, n_steps)
    if last is None:
        return 0, 0
    ii, jj = last
    return (ii + 1, 0) if jj == n_steps - 1 else (ii, jj + 1)


def record_step(path: Path, ii: int, jj: int) -> None:
    append_line(Path(path), f"{ii} {jj}")


def roll_back(path: Path, ii: int, jj: int) -> None:
    """Forget step ``jj`` of iteration ``ii`` and everything after it (the record is
    rewritten atomically, keeping every earlier line)."""
    from raygen.atomic import atomic_write_text

    keep = []
    for line in Path(path).read_text().splitlines():
        parts = line.split()
        if len(parts) == 2 and all(p.isdigit() for p in parts) and \
                (int(parts[0]), int(parts[1])) < (ii, jj):
            keep.append(line)
    atomic_write_text(Path(path), "".join(f"{ln}\n" for ln in keep))
