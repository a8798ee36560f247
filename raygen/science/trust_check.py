"""Is the model deviation worth trusting? An iteration's ensemble tested on the frames
it sent to the labeler: for each labelled frame, its max force deviation (the
selection's quantity) beside the ensemble's true force error against the label
(max over atoms of |mean predicted force − reference force|). Where the deviation
tracks the error, selecting by it is sound (the DP-GEN paper's argument)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from ase import Atoms

from raygen.science.deviation import ensemble_deviation
from raygen.science.ensemble import predict

MAX_DEVI_F = 4  # column of ensemble_deviation: max force deviation


def trust_check(models, frames: Sequence[Atoms], type_map: list[str],
                batch: int = 50) -> list[dict[str, float]]:
    """Per labelled frame (energy and forces attached): ``max_devi_f`` and
    ``max_force_error`` (eV/Å), and the RMS force error over its atoms."""
    out = []
    index = {el: k for k, el in enumerate(type_map)}
    for atoms in frames:  # frames of different sizes: one at a time
        cells = atoms.cell.array[None]
        positions = atoms.positions[None]
        types = [index[s] for s in atoms.get_chemical_symbols()]
        energies, forces, virials = predict(models, cells, positions, types, batch)
        devi = ensemble_deviation(energies, forces, virials)[0]
        err = np.linalg.norm(forces.mean(axis=0)[0] - atoms.get_forces(), axis=1)
        out.append({"max_devi_f": float(devi[MAX_DEVI_F]), "max_force_error": float(err.max()),
                    "rms_force_error": float(np.sqrt(np.mean(err ** 2)))})
    return out
