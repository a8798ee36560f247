"""Accurate / candidate / failed, by DP-GEN's rule.

A frame is a *candidate* if its force deviation or its virial deviation lies in
its trust window ``[lo, hi)``; otherwise *failed* if either is at or above its
``hi`` (or not a number); otherwise (both below ``lo``) *accurate*.
"""

from __future__ import annotations

import numpy as np

from raygen.selection.trust import TrustLevels

ACCURATE, CANDIDATE, FAILED = 0, 1, 2


def classify(max_devi_f: np.ndarray, max_devi_v: np.ndarray, levels: TrustLevels) -> np.ndarray:
    """Category (ACCURATE, CANDIDATE or FAILED) of each frame."""
    f = np.asarray(max_devi_f, dtype=float)
    v = np.asarray(max_devi_v, dtype=float)
    in_f = (f >= levels.f_lo) & (f < levels.f_hi)
    in_v = (v >= levels.v_lo) & (v < levels.v_hi)
    # A non-finite deviation (exploded frame) is failed, never accurate.
    above = (f >= levels.f_hi) | (v >= levels.v_hi) | ~np.isfinite(f) | np.isnan(v)
    out = np.full(f.shape, ACCURATE, dtype=np.int8)
    out[above] = FAILED
    out[in_f | in_v] = CANDIDATE
    return out
