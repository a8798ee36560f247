"""How many candidates of a system get labelled (DP-GEN's fp_task_max throttle)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Optional

import numpy as np


def fp_task_budget(accurate_ratio: float, fp_task_max: int, fp_accurate_threshold: float = 1.0,
                   fp_accurate_soft_threshold: Optional[float] = None) -> int:
    """``fp_task_max`` below the soft threshold of accurate ratio, decaying linearly
    to 0 at ``fp_accurate_threshold``, and 0 at or above it (DP-GEN's make_fp)."""
    hard = fp_accurate_threshold
    soft = hard if fp_accurate_soft_threshold is None else fp_accurate_soft_threshold
    if accurate_ratio < soft:
        return fp_task_max
    if accurate_ratio < hard:
        return int(fp_task_max * (accurate_ratio - hard) / (soft - hard))
    return 0


def number_to_label(n_candidates: int, budget: int, fp_task_min: int) -> int:
    """min(budget, candidates), or nothing when that is fewer than ``fp_task_min``."""
    n = min(budget, n_candidates)
    return n if n >= fp_task_min else 0


def pick(candidates: Sequence, n: int, rng: np.random.Generator) -> tuple[list, list]:
    """Shuffle ``candidates`` with ``rng``; return (the first n, all shuffled)."""
    order = rng.permutation(len(candidates))
    if hasattr(candidates, "take"):  # raygen.selection.select.Frames
        shuffled = candidates.take(order)
    else:
        shuffled = [candidates[i] for i in order]
    return shuffled[:n], shuffled


def proceed_count(n_tasks: int, ratio: float) -> int:
    """How many of an iteration's ``n_tasks`` labels must be done before the next
    iteration's training starts (``label.proceed_ratio``)."""
    return min(n_tasks, max(1, math.ceil(ratio * n_tasks - 1e-9))) if n_tasks else 0


def pick_inverse_population(candidates, values: np.ndarray, lo: float, hi: float, n: int,
                            rng: np.random.Generator, nhist: int = 10):
    """dpgen2's ``inv_pop_f`` pick: a histogram of the candidates' max force deviation
    over [lo, hi) in ``nhist`` bins, each candidate weighted by 1 / its bin's count, ``n``
    drawn without repeats (dpgen2 PR #300). Deviations rare among the candidates are
    picked as often as common ones, so a window crowded near ``lo`` does not take every
    label. Returns (the chosen, all candidates with the chosen first) as :func:`pick`."""
    values = np.asarray(values, dtype=float)
    m = len(values)
    if m == 0 or n == 0:
        return pick(candidates, 0, rng)
    top = hi if np.isfinite(hi) else float(values.max()) + 1e-12
    edges = np.linspace(lo, top, nhist + 1)
    bins = np.clip(np.searchsorted(edges, values, side="right") - 1, 0, nhist - 1)
    weight = 1.0 / np.bincount(bins, minlength=nhist)[bins]
    chosen = rng.choice(m, size=min(n, m), replace=False, p=weight / weight.sum())
    rest = np.setdiff1d(np.arange(m), chosen)
    order = np.concatenate([chosen, rng.permutation(rest)])
    if hasattr(candidates, "take"):
        shuffled = candidates.take(order)
    else:
        shuffled = [candidates[i] for i in order]
    return shuffled[:len(chosen)], shuffled
