"""Where a frame lies in the ensemble's own descriptor space: a short vector per frame,
computed next to its deviation, for a selection that covers configuration space.

deepmd-kit's ``DeepPot.eval_descriptor`` gives each atom's descriptor (hundreds to
thousands of numbers). A frame is summarised at one of two levels:

- ``structure``: the mean of its atoms' descriptors (the whole configuration);
- ``atom``: the descriptor of its most uncertain atom (largest force deviation over the
  ensemble: the local environment the models disagree on).

The summary is projected to :data:`DIM` numbers by a fixed Gaussian random matrix
(Johnson-Lindenstrauss: distances kept within a few per cent), so a million frames
take 128 MB, not gigabytes, and farthest-point sampling over them stays cheap.
"""

from __future__ import annotations

import numpy as np

DIM = 32
LEVELS = ("structure", "atom")


def projection(ndesc: int, dim: int = DIM) -> np.ndarray:
    """The fixed (ndesc, dim) projection (the same in every process for a descriptor
    size: frames evaluated by different workers are comparable)."""
    rng = np.random.default_rng([ndesc, dim, 20261204])
    return (rng.standard_normal((ndesc, dim)) / np.sqrt(dim)).astype(np.float32)


def atom_force_deviation(forces: np.ndarray) -> np.ndarray:
    """(nframes, natoms) force deviation per atom, ``sqrt(<|F - <F>|^2>)`` over the models
    of ``forces`` (nmodels, nframes, natoms, 3) — deepmd-kit's definition."""
    mean = forces.mean(axis=0)
    return np.sqrt(((forces - mean) ** 2).sum(axis=-1).mean(axis=0))


def summarise(atom_desc: np.ndarray, level: str,
              atom_devi: np.ndarray | None = None) -> np.ndarray:
    """(nframes, dim) frame vectors from (nframes, natoms, ndesc) atom descriptors."""
    nframes, natoms = atom_desc.shape[:2]
    if level == "structure":
        per_frame = atom_desc.mean(axis=1)
    elif level == "atom":
        if atom_devi is None:
            raise ValueError("the atom level needs each atom's force deviation")
        worst = np.argmax(atom_devi, axis=1)
        per_frame = atom_desc[np.arange(nframes), worst]
    else:
        raise ValueError(f"descriptor level: {level!r} is not one of {LEVELS}")
    per_frame = per_frame.reshape(nframes, -1).astype(np.float32)
    return per_frame @ projection(per_frame.shape[1])


def frame_descriptors(model, cells: np.ndarray, positions: np.ndarray, types: np.ndarray,
                      batch: int, level: str, forces: np.ndarray | None = None) -> np.ndarray:
    """(nframes, DIM) float32 vectors of frames by ``model`` (a deepmd-kit ``DeepPot``),
    ``batch`` frames at a time; ``forces``: the ensemble's (nmodels, nframes, natoms, 3),
    for the atom level."""
    nframes = positions.shape[0]
    devi = atom_force_deviation(forces) if level == "atom" else None
    out = np.empty((nframes, DIM), dtype=np.float32)
    for lo in range(0, nframes, batch):
        hi = min(lo + batch, nframes)
        desc = model.eval_descriptor(positions[lo:hi].reshape(hi - lo, -1),
                                     cells[lo:hi].reshape(hi - lo, 9), types)
        desc = np.asarray(desc).reshape(hi - lo, positions.shape[1], -1)
        out[lo:hi] = summarise(desc, level, None if devi is None else devi[lo:hi])
    return out
