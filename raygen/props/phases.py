"""Crystal phases of one element at a given volume per atom (ASE's builders; dhcp
stacked by hand as ABAC, which ASE has no builder for)."""

from __future__ import annotations

import numpy as np
from ase import Atoms
from ase.build import bulk

PHASES = ("fcc", "hcp", "bcc", "sc", "diamond", "dhcp")
CUBIC = ("fcc", "bcc", "sc", "diamond")
IDEAL_C_A = np.sqrt(8.0 / 3.0)


def phase(element: str, name: str, v_atom: float) -> Atoms:
    """``name`` of ``element`` with ``v_atom`` Å³ per atom (cubic cells conventional,
    hexagonal ones with the ideal c/a)."""
    if name not in PHASES:
        raise ValueError(f"phase {name!r}: one of {', '.join(PHASES)}")
    if name in CUBIC:
        per_cell = {"fcc": 4, "bcc": 2, "sc": 1, "diamond": 8}[name]
        a = (v_atom * per_cell) ** (1.0 / 3.0)
        return bulk(element, name, a=a, cubic=True)
    # hexagonal: V/atom = (sqrt(3)/2 a^2 c) / n, c = c/a * a * (layers / 2)
    if name == "hcp":
        a = (2 * v_atom / (np.sqrt(3) / 2 * IDEAL_C_A)) ** (1.0 / 3.0)
        return bulk(element, "hcp", a=a, c=IDEAL_C_A * a)
    a = (4 * v_atom / (np.sqrt(3) / 2 * 2 * IDEAL_C_A)) ** (1.0 / 3.0)
    c = 2 * IDEAL_C_A * a
    frac = [(0, 0, 0), (1 / 3, 2 / 3, 1 / 4), (0, 0, 1 / 2), (2 / 3, 1 / 3, 3 / 4)]  # ABAC
    cell = [[a, 0, 0], [-a / 2, a * np.sqrt(3) / 2, 0], [0, 0, c]]
    return Atoms(element * 4, scaled_positions=frac, cell=cell, pbc=True)


def ground(element: str, crystal: str, a: float) -> Atoms:
    """The ground-state cell to relax, from a lattice constant guess ``a`` (for hcp:
    the in-plane one)."""
    if crystal in CUBIC:
        return bulk(element, crystal, a=a, cubic=True)
    if crystal == "hcp":
        return bulk(element, "hcp", a=a, c=IDEAL_C_A * a)
    raise ValueError(f"props.crystal={crystal}: one of {', '.join(CUBIC + ('hcp',))}")
