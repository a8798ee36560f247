"""DP-GEN's adaptive lower trust level (``model_devi_adapt_trust_lo``), per system.

The lower levels are not given but found: of a system's frames that are not failed,
the ``n_f`` with the largest force deviation (and the ``n_v`` with the largest virial
deviation) are the candidates, and the lower levels are where those sets begin. As in
DP-GEN 0.14 (``dpgen/generator/run.py::_select_by_model_devi_adaptive_trust_low``):

- a frame is failed when ``max_devi_f > f_hi`` or ``max_devi_v > v_hi`` — strictly
  greater, unlike the fixed-level rule's ``>=``;
- ``n_f = max(numb_candi_f, int(perc_candi_f * 0.01 * N))`` with ``N`` the frames not
  failed (``perc_candi_f`` in **percent**), at most ``N``; the same for ``v``;
- ``f_lo`` is the ``n_f``-th largest force deviation among them (``f_hi`` when
  ``n_f == 0``); the same for ``v``;
- candidates are the union of the two top sets; the rest are accurate;
- ties are ordered as DP-GEN sorts its ``[deviation, task, step]`` lists.

One departure, on purpose: a frame whose deviation is not a number is failed (DP-GEN
keeps it among the candidates' pool, where it sorts unpredictably and can become the
adapted level — the failure dpgen2#276 reports for dpgen2).
"""

from __future__ import annotations

import math

import numpy as np

from raygen.selection.classify import ACCURATE, CANDIDATE, FAILED


def _top(values: np.ndarray, tasks: np.ndarray, steps: np.ndarray, n: int) -> np.ndarray:
    """Indices of the ``n`` largest ``values``, ties broken by (task, step) as a sort of
    ``[value, task, step]`` lists does (the last ``n`` of that ascending order)."""
    if n == 0:
        return np.array([], dtype=np.int64)
    order = np.lexsort((steps, tasks, values))
    return order[-n:]


def adaptive_classify(f: np.ndarray, v: np.ndarray, tasks: np.ndarray, steps: np.ndarray,
                      f_hi: float, v_hi: float, numb_candi_f: int, perc_candi_f: float,
                      numb_candi_v: int, perc_candi_v: float
                      ) -> tuple[np.ndarray, float, float]:
    """(category of each frame, adapted f_lo, adapted v_lo) of one system's frames.
    ``tasks`` ranks each frame's MD task in name order, ``steps`` its step."""
    f = np.asarray(f, dtype=float)
    v = np.asarray(v, dtype=float)
    v_hi = math.inf if v_hi is None else float(v_hi)
    failed = (f > f_hi) | (v > v_hi) | np.isnan(f) | np.isnan(v)
    kinds = np.full(f.shape, ACCURATE, dtype=np.int8)
    kinds[failed] = FAILED
    pool = np.flatnonzero(~failed)
    n = len(pool)
    n_f = min(n, max(int(numb_candi_f), int(perc_candi_f * 0.01 * n)))
    n_v = min(n, max(int(numb_candi_v), int(perc_candi_v * 0.01 * n)))
    top_f = pool[_top(f[pool], tasks[pool], steps[pool], n_f)]
    top_v = pool[_top(v[pool], tasks[pool], steps[pool], n_v)]
    f_lo = float(f[top_f].min()) if n_f else float(f_hi)
    v_lo = float(v[top_v].min()) if n_v else float(v_hi)
    kinds[top_f] = CANDIDATE
    kinds[top_v] = CANDIDATE
    return kinds, f_lo, v_lo
