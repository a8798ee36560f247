"""An exploration schedule that lengthens itself (ArcaNN's rule), per system.

When few of a system's frames were ill described in an iteration — candidates and
failed frames together, over all its frames — its MD in the next iteration is made
longer: 4x below ``x4_below`` (0.10), 2x below ``x2_below`` (0.20), otherwise as
long as before; never shorter, and never past ``max_nsteps``. The factor multiplies
each job's own ``nsteps``, so the schedule's shape (temperatures, stages) stays the
user's and late iterations explore more per label. Plain functions over the counts an
iteration's selection left.
"""

from __future__ import annotations

from typing import Optional


def ill_described_ratio(counts: dict) -> Optional[float]:
    """(candidate + failed [+ not run]) / all frames of one system's selection counts;
    None without frames."""
    ill = counts.get("candidate", 0) + counts.get("failed", 0) + counts.get("not_run", 0)
    total = ill + counts.get("accurate", 0)
    return ill / total if total else None


def multiplier(ratio: Optional[float], x4_below: float, x2_below: float) -> int:
    """ArcaNN's factor for the next iteration's MD length (1 where nothing is known)."""
    if ratio is None:
        return 1
    if ratio < x4_below:
        return 4
    if ratio < x2_below:
        return 2
    return 1


def next_factors(previous: dict[int, int], systems: dict, x4_below: float, x2_below: float,
                 max_nsteps: int) -> dict[int, dict]:
    """Each system's factor for the next iteration from its factor in this one
    (``previous``, 1 where absent) and this iteration's selection counts per system
    (``systems``: ``selection.json``'s, keyed by the system index as a string):
    ``{sys_idx: {"factor": f, "ill_ratio": r}}``. Factors stop at ``max_nsteps``."""
    out = {}
    for key, counts in systems.items():
        s = int(key)
        ratio = ill_described_ratio(counts)
        f = min(int(previous.get(s, 1)) * multiplier(ratio, x4_below, x2_below),
                int(max_nsteps))
        out[s] = {"factor": max(1, f), "ill_ratio": ratio}
    for s, f in previous.items():  # a system this iteration did not explore keeps its own
        out.setdefault(int(s), {"factor": int(f), "ill_ratio": None})
    return out


def grown_nsteps(nsteps: int, factor: int, max_nsteps: int, trj_freq: int) -> int:
    """``nsteps`` x ``factor``, at most ``max_nsteps`` (rounded down to whole
    ``trj_freq`` intervals, never below the job's own ``nsteps``)."""
    grown = nsteps * max(1, int(factor))
    if grown > max_nsteps:
        grown = max(nsteps, (int(max_nsteps) // trj_freq) * trj_freq)
    return grown
