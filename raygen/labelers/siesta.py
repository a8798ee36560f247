"""SIESTA (numerical atomic orbitals) as a labeler.

Input (``input.fdf``): the structure (``LatticeVectors``, ``AtomicCoordinates``
in Å, ``ChemicalSpeciesLabel`` in order of first appearance) and the keys of
``label`` — ``basis`` (``PAO.BasisSize``), ``mesh_cutoff`` (Ry), k-points from
``kspacing``/``kpoints`` (``kgrid_Monkhorst_Pack``), ``max_scf``, ``dm_tolerance``,
``fdf`` (any other fdf key) — with ``SCF.MustConverge true``. Pseudopotentials
(``<Element>.psf`` or ``.psml``) are linked from ``label.pp_path``.

Judged from SIESTA's output: "SCF_NOT_CONV" / "SCF did not converge" is
``scf_unconverged``; a non-zero exit is ``crashed``; an output without the final
Kohn-Sham energy, the forces or "End of run" is ``unparsable``. Read with dpdata
(``siesta/output``).

Not run here: no SIESTA package exists for this machine; the input writer and the
judging/parsing are tested on files in SIESTA's format.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from ase import Atoms
from ase.data import atomic_numbers

from raygen.config.plugins import LabelerName
from raygen.labelers.external import (
    ExternalLabelConfig,
    ExternalLabeler,
    kpoints_for,
    species_order,
)
from raygen.labelers.kit import STDOUT, Markers, read_dpdata_label

INPUT = "input.fdf"


@dataclass
class SiestaLabelConfig(ExternalLabelConfig):
    """``label=siesta``: ``pp_path`` (``<Element>.psf``/``.psml`` there),
    ``basis``, ``mesh_cutoff`` (Ry), ``xc_functional``/``xc_authors``,
    ``kspacing`` (1/Å) or ``kpoints``, ``max_scf``, ``dm_tolerance``,
    ``electronic_temperature`` (K), any other key in ``fdf``; or your own fdf
    ``template`` with ``{{structure}}`` where raygen writes the atoms, species and
    cell (k-points and everything else are then the template's)."""

    name: LabelerName = LabelerName["siesta"]  # type: ignore[valid-type]
    command: str = "siesta input.fdf"
    pp_path: str = "."
    """directory of `<Element>.psf` / `.psml`"""
    basis: str = "DZP"
    """basis size (SIESTA's PAO.BasisSize)"""
    mesh_cutoff: float = 300.0
    """real-space mesh cutoff (Ry)"""
    xc_functional: str = "GGA"
    """XC.functional"""
    xc_authors: str = "PBE"
    """XC.authors"""
    kspacing: Optional[float] = 0.3
    """k-point spacing (1/Å); null: `kpoints`"""
    kpoints: Optional[list[int]] = None
    """Monkhorst-Pack grid; null: from `kspacing`"""
    max_scf: int = 100
    """SCF steps"""
    dm_tolerance: float = 1.0e-4
    """density-matrix convergence tolerance"""
    electronic_temperature: float = 300.0
    """electronic temperature (K)"""
    fdf: dict[str, Any] = field(default_factory=dict)
    """any other fdf key"""


def pseudopotential(el: str, pp_path: str) -> Path:
    for ext in (".psf", ".psml"):
        path = Path(pp_path).expanduser() / f"{el}{ext}"
        if path.exists():
            return path
    raise ValueError(f"label.pp_path: no {el}.psf or {el}.psml in {pp_path}")


def structure_lines(atoms: Atoms) -> list[str]:
    """The structure as fdf: counts, species, lattice, coordinates (Å)."""
    species, _ = species_order(atoms)
    lines = [f"NumberOfAtoms {len(atoms)}", f"NumberOfSpecies {len(species)}",
             "AtomicCoordinatesFormat Ang", "LatticeConstant 1.0 Ang",
             "%block ChemicalSpeciesLabel"]
    lines += [f" {i + 1} {atomic_numbers[el]} {el}" for i, el in enumerate(species)]
    lines.append("%endblock ChemicalSpeciesLabel")
    lines.append("%block LatticeVectors")
    lines += [" " + " ".join(f"{x:.10f}" for x in v) for v in atoms.cell.array]
    lines.append("%endblock LatticeVectors")
    lines.append("%block AtomicCoordinatesAndAtomicSpecies")
    lines += [f" {x:.10f} {y:.10f} {z:.10f} {species.index(s) + 1}"
              for s, (x, y, z) in zip(atoms.get_chemical_symbols(), atoms.positions)]
    lines.append("%endblock AtomicCoordinatesAndAtomicSpecies")
    return lines


def fdf_text(atoms: Atoms, cfg: SiestaLabelConfig, extra: Optional[dict] = None) -> str:
    """The typed keys and the structure, or the user's ``template`` with
    ``{{structure}}`` replaced by the structure."""
    if cfg.template:
        return Path(cfg.template).read_text().replace(
            "{{structure}}", "\n".join(structure_lines(atoms)))
    kpts = kpoints_for(atoms, cfg.kpoints, cfg.kspacing)
    keys: dict[str, Any] = {
        "SystemLabel": "siesta", "PAO.BasisSize": cfg.basis,
        "MeshCutoff": f"{cfg.mesh_cutoff} Ry", "XC.functional": cfg.xc_functional,
        "XC.authors": cfg.xc_authors, "MaxSCFIterations": cfg.max_scf,
        "DM.Tolerance": cfg.dm_tolerance, "SCF.MustConverge": "true",
        "ElectronicTemperature": f"{cfg.electronic_temperature} K",
        "MD.TypeOfRun": "CG", "MD.NumCGsteps": 0, "WriteForces": "true",
        **dict(cfg.fdf), **dict(extra or {}),
    }
    lines = [f"{k} {v}" for k, v in keys.items()] + structure_lines(atoms)
    lines.append("%block kgrid_Monkhorst_Pack")
    lines += [" " + " ".join(str(kpts[i]) if j == i else "0" for j in range(3)) + " 0.0"
              for i in range(3)]
    lines.append("%endblock kgrid_Monkhorst_Pack")
    return "\n".join(lines) + "\n"


def write_inputs(atoms: Atoms, cfg: SiestaLabelConfig, task_dir: Path,
                 extra: Optional[dict] = None) -> None:
    species, _ = species_order(atoms)
    for el in species:
        src = pseudopotential(el, cfg.pp_path)
        link = task_dir / src.name
        if not link.exists():
            os.symlink(src.resolve(), link)
    (task_dir / INPUT).write_text(fdf_text(atoms, cfg, extra))


MARKERS = Markers("SIESTA", STDOUT, unconverged=("SCF_NOT_CONV", "SCF did not converge"),
                  required=("siesta: E_KS(eV) =", "siesta: Atomic forces (eV/Ang):",
                            "End of run"),
                  what="final energy, forces or 'End of run'")


def parse_output(task_dir: Path, atoms: Atoms) -> Atoms:
    return read_dpdata_label(atoms, task_dir / STDOUT, "siesta/output")


class SiestaLabeler(ExternalLabeler):
    config_class = SiestaLabelConfig
    markers = MARKERS

    def problems(self, type_map: list[str], local: bool = True) -> list[str]:
        out = []
        for el in type_map if local else []:
            try:
                pseudopotential(el, self.cfg.pp_path)
            except ValueError as err:
                out.append(str(err))
        return out

    def write_code_inputs(self, atoms: Atoms, task_dir: Path, extra: Optional[dict]) -> None:
        write_inputs(atoms, self.cfg, task_dir, extra)

    def read_label(self, task_dir: Path, atoms: Atoms) -> Atoms:
        return parse_output(task_dir, atoms)
