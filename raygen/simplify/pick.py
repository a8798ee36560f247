"""DP-GEN's ``dpgen simplify`` rules, as plain functions over deviation arrays.

A frame of the rest of the data set is

- **failed** when any of its deviations (force ``max_devi_f``, energy ``devi_e``) or,
  with labels, true errors reaches its ``hi`` level (``>=``), or is NaN;
- a **candidate** when any of them lies in ``[lo, hi)``;
- **accurate** when all of them are below their ``lo`` level.

``iter_pick_number`` candidates are picked at random and labelled; the other
candidates and the failed frames are the next iteration's rest; the accurate frames
are set aside. Iteration 0 picks ``init_pick_number`` frames of the whole set at random.
The order of the tests is DP-GEN's (``dpgen/simplify/simplify.py::post_model_devi``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FAILED, CANDIDATE, ACCURATE = "failed", "candidate", "accurate"


def classify(values: dict[str, np.ndarray],
             levels: dict[str, tuple[float, float]]) -> np.ndarray:
    """FAILED / CANDIDATE / ACCURATE of each frame, from the per-frame ``values`` of
    every quantity that has ``(lo, hi)`` levels (e.g. ``{"f": max_devi_f, "e":
    devi_e}``; a level of 1e10, DP-GEN's default, switches one off)."""
    keys = [k for k in levels if k in values]
    if not keys:
        raise ValueError("no deviation to classify by")
    n = len(values[keys[0]])
    failed = np.zeros(n, dtype=bool)
    candidate = np.zeros(n, dtype=bool)
    for k in keys:
        v = np.asarray(values[k], dtype=float)
        lo, hi = levels[k]
        failed |= np.isnan(v) | (v >= hi)
        candidate |= (v >= lo) & (v < hi)
    out = np.full(n, ACCURATE, dtype=object)
    out[candidate] = CANDIDATE
    out[failed] = FAILED  # failed wins over candidate, as in DP-GEN
    return out


def random_split(n: int, k: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``k`` of ``range(n)`` at random (picked) and the others (rest), each sorted."""
    order = rng.permutation(n)
    return np.sort(order[:k]), np.sort(order[k:])


@dataclass(frozen=True)
class Split:
    """One iteration's outcome: indices into the evaluated frames."""

    picked: np.ndarray
    rest: np.ndarray  # the candidates not picked, then the failed frames
    accurate: np.ndarray

    def counts(self, status: np.ndarray) -> dict[str, int]:
        return {FAILED: int(np.sum(status == FAILED)),
                CANDIDATE: int(np.sum(status == CANDIDATE)),
                ACCURATE: int(np.sum(status == ACCURATE)),
                "picked": int(len(self.picked))}


def pick_candidates(status: np.ndarray, iter_pick_number: int,
                    rng: np.random.Generator) -> Split:
    """DP-GEN's iteration pick: ``iter_pick_number`` candidates at random."""
    cand = np.flatnonzero(status == CANDIDATE)
    chosen, not_chosen = random_split(len(cand), iter_pick_number, rng)
    failed = np.flatnonzero(status == FAILED)
    return Split(picked=cand[chosen], rest=np.concatenate([cand[not_chosen], failed]),
                 accurate=np.flatnonzero(status == ACCURATE))
