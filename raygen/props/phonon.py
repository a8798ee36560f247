"""Phonon dispersion and DOS by finite displacements (phonopy), along the standard
path of the crystal (seekpath, through phonopy's ``auto_band_structure``);
imaginary modes are flagged."""

from __future__ import annotations

import warnings

import numpy as np
from ase import Atoms

from raygen.props.base import Context, Found, Property, Run, register
from raygen.props.points import Point

IMAGINARY_THZ = -0.05  # below this a frequency counts as imaginary (phonopy: negative)


def _phonopy(bulk: Atoms, n: int):
    from phonopy import Phonopy
    from phonopy.structure.atoms import PhonopyAtoms

    unit = PhonopyAtoms(symbols=bulk.get_chemical_symbols(), cell=bulk.cell.array,
                        scaled_positions=bulk.get_scaled_positions())
    with warnings.catch_warnings():  # "auto" (the primitive cell found) is meant
        warnings.simplefilter("ignore")
        return Phonopy(unit, supercell_matrix=np.eye(3, dtype=int) * n,
                       primitive_matrix="auto")


def _atoms(cell) -> Atoms:
    return Atoms(symbols=cell.symbols, cell=cell.cell, scaled_positions=cell.scaled_positions,
                 pbc=True)


@register
class Phonon(Property):
    """Phonon bands and DOS of the relaxed ground state: ``phonon_supercell`` repeats
    of the cell, displacements of ``phonon_displacement`` Å, each a point."""

    name = "phonon"

    def run(self, ctx: Context) -> Run:
        cfg = ctx.cfg
        ph = _phonopy(ctx.bulk, cfg.phonon_supercell)
        ph.generate_displacements(distance=cfg.phonon_displacement)
        cells = ph.supercells_with_displacements
        res = yield {str(k): Point(_atoms(c), forces=True) for k, c in enumerate(cells)}
        ph.forces = np.array([res[str(k)].forces for k in range(len(cells))])
        ph.produce_force_constants()
        ph.auto_band_structure(npoints=31, with_eigenvectors=False)
        bands = ph.get_band_structure_dict()
        ph.run_mesh([16, 16, 16], is_gamma_center=True)
        ph.run_total_dos()
        dos = ph.get_total_dos_dict()
        freqs = np.concatenate([np.asarray(f).ravel() for f in bands["frequencies"]])
        labels = _labels(ph)
        found = Found(
            scalars={"phonon.max_freq_THz": float(freqs.max()),
                     "phonon.min_freq_THz": float(freqs.min()),
                     "phonon.imaginary": float(freqs.min() < IMAGINARY_THZ)},
            curves={
                "phonon.bands": {
                    "distances": [np.asarray(d).tolist() for d in bands["distances"]],
                    "frequencies": [np.asarray(f).tolist() for f in bands["frequencies"]],
                    "labels": labels,
                    "connections": [bool(c) for c in
                                    getattr(ph.band_structure, "path_connections", []) or []]},
                "phonon.dos": {"x": np.asarray(dos["frequency_points"]).tolist(),
                               "y": np.asarray(dos["total_dos"]).tolist(),
                               "x_name": "ν (THz)", "y_name": "DOS"}})
        if freqs.min() < IMAGINARY_THZ:
            found.notes.append(f"phonon: imaginary modes (lowest {freqs.min():.2f} THz): the "
                               "structure is dynamically unstable with this calculator")
        return found


def _labels(ph) -> list[str]:
    """The special points' names along the path, segment ends in order."""
    bs = ph.band_structure
    labels = getattr(bs, "labels", None)
    if labels is None:
        return []
    return [str(x).replace("$", "").replace("\\Gamma", "Γ").replace("\\mathrm{", "")
            .replace("}", "") for x in labels]
