"""One independent calculation of a property test (a volume, a strain, a defect, a
slab, a shear step, a phonon displacement) and how it is computed and cached.

A :class:`Point` is a structure plus what to do with it: a single point, or a
relaxation of the ions (optionally only along some Cartesian axes), or of ions
and cell. :func:`evaluate` does it with any ASE calculator (ASE's optimizers and
cell filter); :func:`point_key` names the result by content (structure, the
calculator's identity, the settings), so a rerun finds it in the cache.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import numpy as np
from ase import Atoms

MODES = ("single", "relax_ions", "relax_cell", "relax_volume")
RESULT_VERSION = 1


@dataclass
class Point:
    """``mode``: single (energy, forces, stress as given); relax_ions (fixed cell);
    relax_volume (ions + volume, the shape kept); relax_cell (ions + cell).
    ``fixed_axes``: Cartesian axes (0, 1, 2) the ions may not move along while
    relaxing (a stacking-fault step relaxes along the normal only)."""

    atoms: Atoms
    mode: str = "single"
    fmax: float = 1e-3
    steps: int = 500
    fixed_axes: tuple[int, ...] = ()
    forces: bool = False  # keep the forces in the result (phonons)

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"point mode {self.mode!r}: one of {', '.join(MODES)}")


@dataclass
class PointResult:
    energy_eV: float
    stress_eV_A3: list[float]  # Voigt xx yy zz yz xz xy, ASE's sign (tension > 0)
    natoms: int
    volume_A3: float
    cell: list[list[float]]
    positions: list[list[float]]
    steps: int = 0
    converged: bool = True
    forces: Optional[list[list[float]]] = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"version": RESULT_VERSION, **self.__dict__}

    @classmethod
    def from_json(cls, rec: dict) -> PointResult:
        rec = {k: v for k, v in rec.items() if k != "version"}
        return cls(**rec)

    def atoms(self, numbers) -> Atoms:
        return Atoms(numbers=numbers, positions=self.positions, cell=self.cell, pbc=True)


def point_key(point: Point, calc_id: str) -> str:
    """Content hash of a point computed by the calculator ``calc_id``."""
    a = point.atoms
    payload = {
        "calc": calc_id, "mode": point.mode, "fmax": point.fmax, "steps": point.steps,
        "fixed": list(point.fixed_axes), "forces": point.forces,
        "numbers": a.numbers.tolist(), "pbc": a.pbc.tolist(),
        "cell": np.round(a.cell.array, 8).tolist(),
        "positions": np.round(a.positions, 8).tolist(), "v": RESULT_VERSION,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def _relax(atoms: Atoms, point: Point) -> tuple[int, bool]:
    from ase.constraints import FixCartesian
    from ase.filters import FrechetCellFilter
    from ase.optimize import BFGS

    if point.fixed_axes:
        mask = [ax in point.fixed_axes for ax in range(3)]
        atoms.set_constraint(FixCartesian(range(len(atoms)), mask=mask))
    target = atoms
    if point.mode == "relax_cell":
        target = FrechetCellFilter(atoms)
    elif point.mode == "relax_volume":
        target = FrechetCellFilter(atoms, hydrostatic_strain=True)
    opt = BFGS(target, logfile=None)
    converged = bool(opt.run(fmax=point.fmax, steps=point.steps))
    atoms.set_constraint()
    return opt.nsteps, converged


def evaluate(point: Point, calc) -> PointResult:
    """Compute ``point`` with the ASE calculator ``calc``."""
    atoms = point.atoms.copy()
    atoms.calc = calc
    steps, converged = (0, True) if point.mode == "single" else _relax(atoms, point)
    energy = float(atoms.get_potential_energy())
    stress = atoms.get_stress(voigt=True).tolist() if atoms.pbc.all() else [0.0] * 6
    return PointResult(
        energy_eV=energy, stress_eV_A3=[float(x) for x in stress], natoms=len(atoms),
        volume_A3=float(atoms.get_volume()), cell=atoms.cell.array.tolist(),
        positions=atoms.positions.tolist(), steps=int(steps), converged=converged,
        forces=atoms.get_forces().tolist() if point.forces else None)


class PointCache:
    """Results by content key, one JSON file each (``<root>/<k[:2]>/<k>.json``)."""

    def __init__(self, root: Path):
        self.root = Path(root)

    def path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str) -> Optional[PointResult]:
        p = self.path(key)
        if not p.exists():
            return None
        try:
            return PointResult.from_json(json.loads(p.read_text()))
        except (ValueError, TypeError):  # a damaged entry is computed again
            return None

    def put(self, key: str, result: PointResult) -> None:
        from raygen.atomic import atomic_write_json

        self.path(key).parent.mkdir(parents=True, exist_ok=True)
        atomic_write_json(self.path(key), result.to_json())
