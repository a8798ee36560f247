"""A sanity check on the frames about to be labelled (dpgen2's configuration filters).

An MD that blew up leaves frames no first-principles code should see: atoms fused
together, a cell collapsed or exploded, a box sheared flat. Labelled, they cost a DFT
calculation each (one that may not converge) and poison the training set. Each check
is a plain function of an ASE ``Atoms``; :func:`sane_pick` walks a system's candidates
in picking order and takes the first ``n`` that pass every check, the others set aside
as failed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Optional

import numpy as np
from ase import Atoms
from ase.data import covalent_radii


def too_close(atoms: Atoms, ratio: float) -> Optional[str]:
    """Two atoms nearer than ``ratio`` x the sum of their covalent radii (ASE's)."""
    from ase.neighborlist import neighbor_list

    radii = covalent_radii[atoms.numbers] * ratio
    # every pair within the largest limit, then each pair against its own
    i, j, d = neighbor_list("ijd", atoms, float(2 * radii.max()))
    if len(d) == 0:
        return None
    limit = radii[i] + radii[j]
    bad = np.flatnonzero(d < limit)
    if len(bad) == 0:
        return None
    k = bad[np.argmin(d[bad] / limit[bad])]
    return (f"atoms {i[k]} and {j[k]} are {d[k]:.2f} Å apart "
            f"(< {ratio:g} x covalent radii, {limit[k]:.2f} Å)")


def volume_off(atoms: Atoms, reference_per_atom: float, factor: float) -> Optional[str]:
    """Volume per atom more than ``factor`` times larger or smaller than the reference
    (the MD's starting configuration)."""
    v = atoms.get_volume() / len(atoms)
    if v > factor * reference_per_atom or v < reference_per_atom / factor:
        return (f"volume {v:.2f} Å³/atom, its MD started at {reference_per_atom:.2f} "
                f"(more than {factor:g}x off)")
    return None


def skewed(atoms: Atoms, theta_deg: float) -> Optional[str]:
    """dpgen2's box-skewness filter: in the cell's standard form, a tilt beyond
    tan(theta) of the edge it leans on."""
    cell, _ = atoms.cell.standard_form()
    t = np.tan(np.radians(theta_deg))
    if abs(cell[1][0]) > t * cell[1][1] or abs(cell[2][0]) > t * cell[2][2] \
            or abs(cell[2][1]) > t * cell[2][2]:
        return f"cell tilted beyond {theta_deg:g} degrees"
    return None


def elongated(atoms: Atoms, ratio: float) -> Optional[str]:
    """dpgen2's box-length filter: one edge of the standard-form cell more than ``ratio``
    times another."""
    cell, _ = atoms.cell.standard_form()
    edges = np.abs(np.diag(cell))
    if edges.max() > ratio * edges.min():
        return f"cell edges {edges.round(2).tolist()} Å differ more than {ratio:g}x"
    return None


def checks(cfg) -> list[Callable[[Atoms, Atoms], Optional[str]]]:
    """The checks ``cfg`` (``select.sanity``) asks for, each ``(frame, start) -> reason``."""
    out = []
    if cfg.min_distance_ratio is not None:
        out.append(lambda a, _s, r=float(cfg.min_distance_ratio): too_close(a, r))
    if cfg.volume_ratio is not None:
        out.append(lambda a, s, f=float(cfg.volume_ratio):
                   volume_off(a, s.get_volume() / len(s), f))
    if cfg.max_tilt_deg is not None:
        out.append(lambda a, _s, t=float(cfg.max_tilt_deg): skewed(a, t))
    if cfg.max_edge_ratio is not None:
        out.append(lambda a, _s, r=float(cfg.max_edge_ratio): elongated(a, r))
    return out


def reason(atoms: Atoms, start: Atoms, tests) -> Optional[str]:
    """The first check ``atoms`` fails (None: it is sane)."""
    for test in tests:
        why = test(atoms, start)
        if why:
            return why
    return None


def sane_pick(candidates, n: int, judge: Callable[[tuple], Optional[str]]):
    """Walk ``candidates`` (picking order: the chosen first) and take the first ``n``
    frames ``judge`` finds nothing wrong with. Returns (indices taken, {index: reason}
    of those set aside); frames after the last one taken are not judged."""
    taken, rejected = [], {}
    for k in range(len(candidates)):
        if len(taken) >= n:
            break
        why = judge(candidates[k])
        if why:
            rejected[k] = why
        else:
            taken.append(k)
    return np.asarray(taken, dtype=np.int64), rejected
