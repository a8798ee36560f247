"""Model deviation of an ensemble, and DP-GEN's ``model_devi.out``.

The formulas are deepmd-kit's own (``deepmd.infer.model_devi``): force deviation
per atom ``sqrt(<|F_i - <F_i>|^2>)`` over models, reduced by max/min/mean over
atoms; virial deviation of the per-atom virial over its 9 components; energy
deviation of the per-atom energy. Normalisation by the number of atoms matches
``calc_model_devi`` (what LAMMPS' ``pair_style deepmd ... out_file`` writes too).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from deepmd.infer.model_devi import calc_model_devi_e, calc_model_devi_f, calc_model_devi_v

from raygen.atomic import atomic_write_text
from raygen.science.frames import MODEL_DEVI_COLUMNS

MODEL_DEVI_HEADER = "#  step" + "".join(f"  {c}" for c in MODEL_DEVI_COLUMNS)


def ensemble_deviation(energies: np.ndarray, forces: np.ndarray,
                       virials: np.ndarray, real: tuple | None = None) -> np.ndarray:
    """Deviation columns of ``nframes`` frames predicted by ``nmodels`` models.

    Parameters
    ----------
    energies : (nmodels, nframes) total energies, eV
    forces : (nmodels, nframes, natoms, 3) forces, eV/Å
    virials : (nmodels, nframes, 9) virials, eV

    Returns
    -------
    (nframes, 7) array: max/min/avg virial deviation, max/min/avg force deviation,
    energy deviation — the columns of ``model_devi.out`` after ``step``.

    With ``real`` = (energies (nframes,), forces (nframes, natoms, 3), virials
    (nframes, 9) or None), the same columns hold the models' RMS error against those
    labels instead (``dp model-devi --real_error``; virial columns NaN without virials).
    """
    nmodels, nframes, natoms = forces.shape[0], forces.shape[1], forces.shape[2]
    if energies.shape != (nmodels, nframes) or virials.shape != (nmodels, nframes, 9):
        raise ValueError("energies/forces/virials disagree on models or frames: "
                         f"{energies.shape}, {forces.shape}, {virials.shape}")
    real_e, real_f, real_v = real if real is not None else (None, None, None)
    if real is not None and real_v is None:  # labels without virials
        devi_v = [np.full(nframes, np.nan)] * 3
    else:
        devi_v = calc_model_devi_v(virials / natoms,
                                   None if real_v is None else np.asarray(real_v) / natoms)
    devi_f = calc_model_devi_f(forces, None if real_f is None else np.asarray(real_f))
    devi_e = calc_model_devi_e((energies / natoms)[..., None], None if real_e is None
                               else (np.asarray(real_e) / natoms)[..., None])
    return np.column_stack([*devi_v, *devi_f[:3], devi_e])


def format_model_devi(steps: np.ndarray, devi: np.ndarray) -> str:
    """``model_devi.out`` text: DP-GEN's header, step as %12d, values as %19.6e."""
    lines = [MODEL_DEVI_HEADER]
    for step, row in zip(steps, devi):
        lines.append(f"{int(step):12d}" + "".join(f"{v:19.6e}" for v in row))
    return "\n".join(lines) + "\n"


def write_model_devi(path: str | os.PathLike, steps: np.ndarray, devi: np.ndarray) -> None:
    atomic_write_text(Path(path), format_model_devi(steps, devi))


def read_model_devi(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """(steps, (nframes, 7) deviations) of a ``model_devi.out`` (ours or LAMMPS')."""
    data = np.loadtxt(path, ndmin=2)
    return data[:, 0].astype(np.int64), data[:, 1:8]
