"""When an MD task gives up: the ensemble's deviation stays above the upper trust level.

Frames whose force deviation is at or above ``f_trust_hi`` (or not a number) are
*failed*: DP-GEN never labels them, and the MD after a long stretch of them only
makes more. A :class:`StopRule` says when a task ends early — after
``failed_frames`` consecutive failed frames, or once its failed frames reach
``failed_ratio`` of the frames it was to record — and, with ``restarts``, that it
goes on from its last trusted frame with new velocities instead (so the task still
delivers candidates). Plain functions over the deviations recorded so far; the
exploration engine calls them between pieces of its MD.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Optional

import numpy as np

STOP_RULE_FILE = "stop_rule.json"  # in a task dir: the rule its MD follows
STOPPED_FILE = "stopped.json"  # in a task dir: where and why its MD ended early


@dataclass(frozen=True)
class StopRule:
    """The early-stop rule of one MD task (its system's upper force trust level)."""

    f_hi: float
    nsteps: int
    trj_freq: int
    failed_frames: Optional[int] = None
    failed_ratio: Optional[float] = None
    check_every: int = 10
    restarts: int = 0
    seed: int = 0

    @property
    def planned_frames(self) -> int:
        """Frames the task records when it runs to the end (step 0 included)."""
        return self.nsteps // self.trj_freq + 1

    @property
    def chunk_steps(self) -> int:
        """MD steps between two checks."""
        return self.check_every * self.trj_freq

    def restart_seed(self, k: int) -> int:
        """The velocity seed of the task's ``k``-th restart (k >= 1): new, positive, and
        the same on a rerun."""
        return (self.seed + 7919 * k) % 900_000_000 + 1

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> StopRule:
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})

    def write(self, task_dir: Path) -> None:
        (Path(task_dir) / STOP_RULE_FILE).write_text(json.dumps(self.to_dict()))

    @classmethod
    def read(cls, task_dir: Path) -> Optional[StopRule]:
        path = Path(task_dir) / STOP_RULE_FILE
        return cls.from_dict(json.loads(path.read_text())) if path.exists() else None


def failed_mask(max_devi_f: np.ndarray, f_hi: float) -> np.ndarray:
    """Failed frames as :func:`raygen.selection.classify.classify` counts them by force:
    at or above ``f_hi``, or not a finite number."""
    f = np.asarray(max_devi_f, dtype=float)
    return ~np.isfinite(f) | (f >= f_hi)


def stop_reason(max_devi_f: np.ndarray, rule: StopRule, failed_before: int = 0) -> Optional[str]:
    """Why the task should stop now, given the force deviations of the frames recorded
    since it (re)started (``failed_before``: failed frames of its earlier pieces, which
    count toward ``failed_ratio``); None to go on."""
    failed = failed_mask(max_devi_f, rule.f_hi)
    if rule.failed_frames is not None and len(failed) >= rule.failed_frames \
            and failed[-rule.failed_frames:].all():
        n = rule.failed_frames
        return (f"{n} consecutive frame{'s' if n > 1 else ''} at or above f_trust_hi "
                f"{rule.f_hi:g} eV/Å")
    if rule.failed_ratio is not None:
        n = failed_before + int(failed.sum())
        if n >= rule.failed_ratio * rule.planned_frames:
            return (f"{n} of {rule.planned_frames} frames at or above f_trust_hi "
                    f"{rule.f_hi:g} eV/Å (failed_ratio {rule.failed_ratio:g})")
    return None


def last_trusted(max_devi_f: np.ndarray, f_hi: float) -> Optional[int]:
    """Index of the last frame below ``f_hi`` (where a restart goes on from), or None."""
    ok = np.flatnonzero(~failed_mask(max_devi_f, f_hi))
    return int(ok[-1]) if len(ok) else None


def frames_not_run(task_dir: Path) -> int:
    """Frames a task did not record because it stopped early (0 if it ran to the end)."""
    path = Path(task_dir) / STOPPED_FILE
    return int(json.loads(path.read_text()).get("frames_not_run", 0)) if path.exists() else 0
