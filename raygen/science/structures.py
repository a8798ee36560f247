"""Starting structures: ideal crystals, slabs, relaxation and random perturbation.

Plain functions over ``ase.Atoms``; the calculator used for relaxation is passed in
(in a run: the labeler's reference calculator, as DP-GEN's ``init_bulk`` relaxes
with the first-principles code).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from ase import Atoms
from ase.build import bulk, surface
from ase.calculators.calculator import Calculator
from ase.filters import FrechetCellFilter
from ase.io import read
from ase.optimize import BFGS

if TYPE_CHECKING:  # annotations only: science does not depend on the schema
    from raygen.config.schema import SystemConfig


# Conventional cells for cubic crystals: a 2x2x2 fcc supercell holds 32 atoms,
# as in the DP-GEN paper's Cu example.
_CUBIC = {"fcc", "bcc", "sc", "diamond"}
SURFACES = {"100": (1, 0, 0), "110": (1, 1, 0), "111": (1, 1, 1), "0001": (0, 0, 1),
             "001": (0, 0, 1), "10-10": (1, 0, 0)}


def ideal_crystal(sys: SystemConfig) -> Atoms:
    """Unit cell of ``sys.crystal`` (conventional for cubic lattices)."""
    kwargs = {}
    if sys.a is not None:
        kwargs["a"] = sys.a
    if sys.c is not None:
        kwargs["c"] = sys.c
    return bulk(sys.element, sys.crystal, cubic=sys.crystal in _CUBIC, **kwargs)


def repeats(sys: SystemConfig) -> tuple[int, int, int]:
    """The supercell a system is built as: its ``supercell``, or by default 2 × 2 × 2
    conventional cells for crystals and slabs and the file as given for ``file``."""
    if sys.supercell is not None:
        return tuple(int(n) for n in sys.supercell)
    return (1, 1, 1) if sys.structure == "file" else (2, 2, 2)


def build_system(sys: SystemConfig) -> Atoms:
    """The unperturbed, unrelaxed structure a :class:`SystemConfig` describes."""
    atoms = _build_perfect(sys)
    if sys.vacancies:
        rng = np.random.default_rng(len(atoms))
        drop = rng.choice(len(atoms), size=sys.vacancies, replace=False)
        del atoms[sorted(drop.tolist())]
    return atoms


def _build_perfect(sys: SystemConfig) -> Atoms:
    reps = repeats(sys)
    if sys.structure == "file":
        return read(sys.path, index=0).repeat(reps)
    unit = ideal_crystal(sys)
    if sys.structure == "bulk":
        return unit.repeat(reps)
    if sys.structure == "surface":
        miller = SURFACES[sys.miller]
        slab = surface(unit, miller, layers=sys.layers, vacuum=sys.vacuum / 2.0, periodic=True)
        nx, ny = reps[0], reps[1]
        slab = slab.repeat((nx, ny, 1))
        slab.wrap()
        return slab
    raise ValueError(f"systems[{sys.name}].structure: unknown structure {sys.structure!r}")


def relax(atoms: Atoms, calc: Calculator, fmax: float = 0.01, steps: int = 200,
          cell: bool = True) -> Atoms:
    """Relax positions (and the cell, when ``cell``) with ``calc``; return a copy."""
    atoms = atoms.copy()
    atoms.calc = calc
    target = FrechetCellFilter(atoms) if cell else atoms
    BFGS(target, logfile=None).run(fmax=fmax, steps=steps)
    relaxed = atoms.copy()
    relaxed.calc = None
    return relaxed


def perturb(atoms: Atoms, rng: np.random.Generator, atom_pert: float,
            cell_pert: float) -> Atoms:
    """One random perturbation, as ``dpdata.System.perturb`` does it.

    The cell is deformed by a random symmetric strain with entries up to
    ``cell_pert`` (fraction), atoms are carried along, then each atom is displaced
    by a random vector of length up to ``atom_pert`` Å.
    """
    out = atoms.copy()
    strain = rng.uniform(-cell_pert, cell_pert, size=(3, 3))
    strain = (strain + strain.T) / 2.0
    out.set_cell(out.cell.array @ (np.eye(3) + strain), scale_atoms=True)
    direction = rng.normal(size=(len(out), 3))
    direction /= np.linalg.norm(direction, axis=1, keepdims=True)
    length = atom_pert * rng.uniform(0.0, 1.0, size=(len(out), 1)) ** (1.0 / 3.0)
    out.positions = out.positions + direction * length
    out.wrap()
    return out


def scale_cell(atoms: Atoms, factor: float) -> Atoms:
    """Compress or expand uniformly by ``factor`` in each direction."""
    out = atoms.copy()
    out.set_cell(out.cell.array * factor, scale_atoms=True)
    return out


VOIGT = ((0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1))


def strain_cell(atoms: Atoms, voigt: int, eps: float) -> Atoms:
    """Deform by the Voigt strain component ``voigt`` (xx, yy, zz, yz, xz, xy) of
    size ``eps`` (engineering shear: the symmetric tensor holds eps/2 off the
    diagonal), atoms carried along."""
    i, j = VOIGT[voigt]
    strain = np.zeros((3, 3))
    if i == j:
        strain[i, i] = eps
    else:
        strain[i, j] = strain[j, i] = eps / 2
    out = atoms.copy()
    out.set_cell(out.cell.array @ (np.eye(3) + strain), scale_atoms=True)
    return out


def strained_copies(atoms: Atoms, strains: list[float]) -> list[Atoms]:
    """Each of the six Voigt strains at +eps and -eps for every eps in ``strains``:
    the cells an elastic-constant calculation visits (12 per eps)."""
    return [strain_cell(atoms, v, sign * eps)
            for eps in strains for v in range(6) for sign in (1, -1)]
