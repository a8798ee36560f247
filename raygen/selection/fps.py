"""Farthest-point sampling: candidates picked to cover descriptor space, not to repeat it.

Uniform picking labels where the MD spent its time: a thousand near-identical frames of
one basin take most labels, a rare transition few. Farthest-point sampling starts from
the candidate of largest force deviation and adds, each time, the candidate farthest
(Euclidean, in the frame vectors of :mod:`raygen.science.descriptors`) from all picked
so far. One pass over the candidates per pick: O(candidates x picks x dim) time,
O(candidates) memory besides the vectors.
"""

from __future__ import annotations

import numpy as np


def farthest_points(vectors: np.ndarray, n: int, first: int) -> np.ndarray:
    """Indices of ``n`` rows of ``vectors`` (m, d), the first ``first``, each next the
    row farthest from those already chosen (ties: the lowest index)."""
    m = len(vectors)
    n = min(int(n), m)
    if n <= 0:
        return np.empty(0, dtype=np.int64)
    x = np.asarray(vectors, dtype=np.float32)
    norms = np.einsum("ij,ij->i", x, x)

    def dist2(c: int) -> np.ndarray:  # |x - x_c|^2 as |x|^2 - 2 x.x_c + |x_c|^2: no (m, d) copy
        return np.maximum(norms - 2 * (x @ x[c]) + norms[c], 0)

    chosen = np.empty(n, dtype=np.int64)
    chosen[0] = first
    nearest = dist2(first)
    for k in range(1, n):
        nxt = int(np.argmax(nearest))
        chosen[k] = nxt
        np.minimum(nearest, dist2(nxt), out=nearest)
    return chosen


def pick_farthest(candidates, vectors: np.ndarray, devi_f: np.ndarray, n: int,
                  rng: np.random.Generator):
    """(the chosen, all candidates with the chosen first and the rest shuffled), as
    :func:`raygen.selection.budget.pick` returns them."""
    m = len(vectors)
    if m == 0 or n == 0:
        order = rng.permutation(m)
        chosen = np.empty(0, dtype=np.int64)
    else:
        chosen = farthest_points(vectors, n, int(np.argmax(devi_f)))
        rest = np.setdiff1d(np.arange(m), chosen)
        order = np.concatenate([chosen, rng.permutation(rest)])
    shuffled = candidates.take(order) if hasattr(candidates, "take") else \
        [candidates[i] for i in order]
    return shuffled[:len(chosen)], shuffled
