"""Ensemble inference: every model of an ensemble on batches of frames — the one
loop the deviation reducer, the held-out scorer and the benchmarks share. Models are
anything with deepmd-kit's ``DeepPot.eval(coords, cells, atom_types)``."""

from __future__ import annotations

import numpy as np


def predict(models, cells: np.ndarray, positions: np.ndarray, types: np.ndarray,
            batch: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Energies (M, F), forces (M, F, N, 3), virials (M, F, 9) of every model,
    evaluated ``batch`` frames at a time."""
    nframes, natoms = positions.shape[0], positions.shape[1]
    energies = np.empty((len(models), nframes))
    forces = np.empty((len(models), nframes, natoms, 3))
    virials = np.empty((len(models), nframes, 9))
    for lo in range(0, nframes, batch):
        hi = min(lo + batch, nframes)
        coords = positions[lo:hi].reshape(hi - lo, -1)
        boxes = cells[lo:hi].reshape(hi - lo, 9)
        for m, model in enumerate(models):
            e, f, v = model.eval(coords, boxes, types)[:3]
            energies[m, lo:hi] = np.reshape(e, hi - lo)
            forces[m, lo:hi] = np.reshape(f, (hi - lo, natoms, 3))
            virials[m, lo:hi] = np.reshape(v, (hi - lo, 9))
    return energies, forces, virials
