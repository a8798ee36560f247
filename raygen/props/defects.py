"""Defects and planar faults: the vacancy, self-interstitials at named sites,
surface energies (relaxed and unrelaxed), and the (111) generalized
stacking-fault line of fcc with its intrinsic and unstable fault energies."""

from __future__ import annotations

import numpy as np
from ase import Atoms

from raygen.props.base import EV_A2_TO_J_M2, Context, Found, Property, Run, register
from raygen.props.points import Point


def defect_cell(bulk: Atoms, min_atoms: int) -> Atoms:
    """The smallest n x n x n repeat of ``bulk`` with at least ``min_atoms`` atoms."""
    n = 1
    while len(bulk) * n ** 3 < min_atoms:
        n += 1
    return bulk.repeat((n, n, n))


@register
class Vacancy(Property):
    """Vacancy formation energy in a cell of at least ``defect_min_atoms`` atoms at the
    relaxed lattice: E_f = E(N-1) - (N-1) E_bulk/atom, unrelaxed and ions relaxed."""

    name = "vacancy"

    def run(self, ctx: Context) -> Run:
        cell = defect_cell(ctx.bulk, ctx.cfg.defect_min_atoms)
        centre = cell.cell.sum(axis=0) / 2
        vac = cell.copy()
        del vac[int(np.argmin(np.linalg.norm(cell.positions - centre, axis=1)))]
        res = yield {"unrelaxed": Point(vac),
                     "relaxed": Point(vac, mode="relax_ions", fmax=ctx.cfg.fmax)}
        n = len(vac)
        return Found(scalars={
            "vacancy.E_f_eV": res["relaxed"].energy_eV - n * ctx.e_atom,
            "vacancy.E_f_unrelaxed_eV": res["unrelaxed"].energy_eV - n * ctx.e_atom,
            "vacancy.natoms": float(len(cell)),
        })


# named self-interstitial sites of fcc, in units of the conventional lattice constant,
# relative to a lattice site near the cell's centre
FCC_SITES = {
    "octahedral": np.array([0.5, 0.0, 0.0]),
    "tetrahedral": np.array([0.25, 0.25, 0.25]),
}
DUMBBELL_HALF = 0.3  # <100> dumbbell: two atoms at +-0.3 a along x around a lattice site


@register
class Interstitial(Property):
    """Self-interstitials at named sites of fcc (octahedral, tetrahedral, <100>
    dumbbell), each relaxed in a cell of at least ``defect_min_atoms`` atoms:
    E_f = E(N+1) - (N+1) E_bulk/atom. A site the relaxation left is named in the notes."""

    name = "interstitial"
    crystals = ("fcc",)
    SITES = ("octahedral", "tetrahedral", "dumbbell_100")

    def problems(self, cfg, crystal: str) -> list[str]:
        bad = [s for s in cfg.interstitial_sites if s not in self.SITES]
        out = super().problems(cfg, crystal)
        if bad:
            out.append(f"props.interstitial_sites: {', '.join(bad)}: not a named site "
                       f"(one of {', '.join(self.SITES)})")
        return out

    def run(self, ctx: Context) -> Run:
        a = float(ctx.bulk.cell.lengths()[0])
        cell = defect_cell(ctx.bulk, ctx.cfg.defect_min_atoms)
        centre = cell.cell.sum(axis=0) / 2
        host = int(np.argmin(np.linalg.norm(cell.positions - centre, axis=1)))
        site0 = cell.positions[host]
        pts, marks = {}, {}
        for name in ctx.cfg.interstitial_sites:
            d = cell.copy()
            if name == "dumbbell_100":
                del d[host]
                shift = np.array([DUMBBELL_HALF * a, 0, 0])
                d += Atoms(ctx.element * 2, positions=[site0 - shift, site0 + shift])
            else:
                d += Atoms(ctx.element, positions=[site0 + FCC_SITES[name] * a])
            marks[name] = d.positions[-1].copy()
            pts[name] = Point(d, mode="relax_ions", fmax=ctx.cfg.fmax)
        res = yield pts
        found = Found()
        for name, r in res.items():
            n = r.natoms
            found.scalars[f"interstitial.{name}.E_f_eV"] = r.energy_eV - n * ctx.e_atom
            moved = float(np.linalg.norm(np.asarray(r.positions[-1]) - marks[name]))
            if moved > 0.3:
                found.notes.append(f"interstitial {name}: the inserted atom moved {moved:.2f} Å "
                                   "while relaxing (the site may not be stable)")
        return found


def slab_builder(crystal: str, hkl: str):
    from ase import build

    name = f"{crystal}{hkl}"
    if not hasattr(build, name) or crystal not in ("fcc", "bcc", "hcp"):
        return None
    return getattr(build, name)


@register
class Surface(Property):
    """Surface energies of the listed (hkl) (``surfaces``: "100", "110", "111" for
    fcc/bcc, "0001" for hcp): slabs of ``surface_layers`` layers with ``vacuum`` Å on
    each side at the relaxed lattice, gamma = (E_slab - N E_bulk/atom) / 2A,
    unrelaxed and ions relaxed."""

    name = "surface"

    def problems(self, cfg, crystal: str) -> list[str]:
        bad = [h for h in cfg.surfaces if slab_builder(crystal, str(h)) is None]
        return [f"props.surfaces: {', '.join(map(str, bad))}: no ASE slab builder for "
                f"{crystal}"] if bad else []

    def run(self, ctx: Context) -> Run:
        cfg = ctx.cfg
        a = float(ctx.bulk.cell.lengths()[0])
        pts, slabs = {}, {}
        for hkl in map(str, cfg.surfaces):
            kw = {"a": a}
            if ctx.crystal == "hcp":
                kw["c"] = float(ctx.bulk.cell.lengths()[2])
            slab = slab_builder(ctx.crystal, hkl)(ctx.element, size=(1, 1, cfg.surface_layers),
                                                  vacuum=cfg.vacuum, periodic=True, **kw)
            slabs[hkl] = slab
            pts[f"{hkl}.unrelaxed"] = Point(slab)
            pts[f"{hkl}.relaxed"] = Point(slab, mode="relax_ions", fmax=cfg.fmax)
        res = yield pts
        found = Found()
        for hkl, slab in slabs.items():
            area = float(np.linalg.norm(np.cross(slab.cell[0], slab.cell[1])))
            for kind in ("relaxed", "unrelaxed"):
                r = res[f"{hkl}.{kind}"]
                gamma = (r.energy_eV - len(slab) * ctx.e_atom) / (2 * area) * EV_A2_TO_J_M2
                suffix = "" if kind == "relaxed" else "_unrelaxed"
                found.scalars[f"surface.{hkl}.gamma{suffix}_J_m2"] = gamma
        return found


def fault_cell(element: str, a: float, repeats: int) -> Atoms:
    """fcc with x = [1-10], y = [11-2], z = [111]: 3 ``repeats`` (111) layers."""
    from ase.lattice.cubic import FaceCenteredCubic

    return FaceCenteredCubic(directions=[[1, -1, 0], [1, 1, -2], [1, 1, 1]],
                             size=(1, 1, repeats), symbol=element, latticeconstant=a)


@register
class StackingFault(Property):
    """The (111) generalized stacking-fault line of fcc along [11-2]: the cell's z
    vector tilted by f b_p (b_p = a/sqrt(6), the Shockley partial), one fault per
    periodic cell, ions relaxed along [111] only; gamma_isf at f = 1, gamma_usf the
    maximum in between."""

    name = "stacking_fault"
    crystals = ("fcc",)

    def run(self, ctx: Context) -> Run:
        cfg = ctx.cfg
        a = float(ctx.bulk.cell.lengths()[0])
        base = fault_cell(ctx.element, a, cfg.sf_layers)
        bp = a / np.sqrt(6)
        fs = np.linspace(0.0, 1.0, cfg.sf_points)
        pts = {}
        for k, f in enumerate(fs):
            cell = base.cell.array.copy()
            cell[2] = cell[2] + np.array([0.0, f * bp, 0.0])
            tilted = base.copy()
            tilted.set_cell(cell, scale_atoms=False)
            pts[str(k)] = Point(tilted, mode="relax_ions", fmax=cfg.fmax, fixed_axes=(0, 1))
        res = yield pts
        area = float(np.linalg.norm(np.cross(base.cell[0], base.cell[1])))
        e0 = res["0"].energy_eV
        gam = [(res[str(k)].energy_eV - e0) / area * EV_A2_TO_J_M2 * 1000 for k in range(len(fs))]
        return Found(
            scalars={"stacking_fault.gamma_isf_mJ_m2": gam[-1],
                     "stacking_fault.gamma_usf_mJ_m2": float(max(gam[1:-1] or gam))},
            curves={"stacking_fault.gsf": {"x": fs.tolist(), "y": gam,
                                           "x_name": "shift (b_p = a/√6 along [11-2])",
                                           "y_name": "γ (mJ/m²)"}})
