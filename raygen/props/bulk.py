"""Bulk properties: the equilibrium state, the equation of state of each phase
(fitted with ``ase.eos``), and elastic constants from stress-strain fits."""

from __future__ import annotations

import numpy as np
from ase import Atoms

from raygen.props.base import EV_A3_TO_GPA, Context, Found, Property, Run, register
from raygen.props.phases import CUBIC, phase
from raygen.props.points import Point
from raygen.science.structures import strain_cell


@register
class Equilibrium(Property):
    """Relaxed lattice, energy and volume per atom, and the cohesive energy against
    an isolated atom (one atom in a 12 Å box)."""

    name = "equilibrium"

    def run(self, ctx: Context) -> Run:
        atom = Atoms(ctx.element, positions=[[0, 0, 0]], cell=[12.0] * 3, pbc=True)
        res = yield {"atom": Point(atom)}
        b = ctx.bulk
        scalars = {
            "equilibrium.a_A": float(b.cell.lengths()[0]),
            "equilibrium.V0_A3_per_atom": b.get_volume() / len(b),
            "equilibrium.E_eV_per_atom": ctx.e_atom,
            "equilibrium.E_coh_eV_per_atom": res["atom"].energy_eV - ctx.e_atom,
        }
        if ctx.crystal == "hcp":
            scalars["equilibrium.c_over_a"] = float(b.cell.lengths()[2] / b.cell.lengths()[0])
        return Found(scalars=scalars)


def fit_eos(volumes, energies) -> dict[str, float]:
    """Birch-Murnaghan fit (``ase.eos``): V0, E0, B0 (GPa), B'."""
    from ase.eos import EquationOfState

    eos = EquationOfState(list(volumes), list(energies), eos="birchmurnaghan")
    v0, e0, b = eos.fit()
    params = getattr(eos, "eos_parameters", None)
    bp = float(params[2]) if params is not None and len(params) >= 3 else float("nan")
    return {"V0": float(v0), "E0": float(e0), "B0": float(b * EV_A3_TO_GPA), "Bp": bp}


@register
class Eos(Property):
    """Energy-volume curves of every listed phase: each phase relaxed first (volume
    and ions; hexagonal ones also c/a), then scanned over ``eos_range`` of its
    volume; fitted (V0, E0, B0, B') and E0 taken against the ground phase."""

    name = "eos"

    def problems(self, cfg, crystal: str) -> list[str]:
        from raygen.props.phases import PHASES

        bad = [p for p in cfg.phases if p not in PHASES]
        return [f"props.phases: {', '.join(bad)}: not a phase raygen can build "
                f"(one of {', '.join(PHASES)})"] if bad else []

    def run(self, ctx: Context) -> Run:
        cfg = ctx.cfg
        v0 = ctx.bulk.get_volume() / len(ctx.bulk)
        relax = {p: Point(phase(ctx.element, p, v0),
                          mode="relax_volume" if p in CUBIC else "relax_cell",
                          fmax=cfg.fmax) for p in cfg.phases}
        relaxed = yield relax
        scan = {}
        xs = np.linspace(1 - cfg.eos_range, 1 + cfg.eos_range, cfg.eos_points)
        for p, r in relaxed.items():
            base = r.atoms(relax[p].atoms.numbers)
            for k, x in enumerate(xs):
                a = base.copy()
                a.set_cell(base.cell.array * x ** (1 / 3), scale_atoms=True)
                scan[f"{p}.{k}"] = Point(a)
        res = yield scan
        found = Found()
        fits = {}
        for p in cfg.phases:
            n = len(relax[p].atoms)
            vols = [res[f"{p}.{k}"].volume_A3 / n for k in range(len(xs))]
            ens = [res[f"{p}.{k}"].energy_eV / n for k in range(len(xs))]
            fits[p] = fit_eos(vols, ens)
            found.curves[f"eos.{p}"] = {"x": vols, "y": ens, "x_name": "V (Å³/atom)",
                                        "y_name": "E (eV/atom)"}
            found.scalars[f"eos.{p}.V0_A3_per_atom"] = fits[p]["V0"]
            found.scalars[f"eos.{p}.E0_eV_per_atom"] = fits[p]["E0"]
            found.scalars[f"eos.{p}.B0_GPa"] = fits[p]["B0"]
            found.scalars[f"eos.{p}.Bp"] = fits[p]["Bp"]
        ground = ctx.crystal if ctx.crystal in fits else min(fits, key=lambda p: fits[p]["E0"])
        for p in cfg.phases:
            if p != ground:
                found.scalars[f"eos.{p}.dE_eV_per_atom"] = fits[p]["E0"] - fits[ground]["E0"]
        return found


def moduli(c: np.ndarray) -> dict[str, float]:
    """Voigt, Reuss and Hill bulk and shear moduli of a 6x6 stiffness matrix (GPa),
    and its smallest eigenvalue (Born stability: all positive)."""
    s = np.linalg.inv(c)
    bv = (c[0, 0] + c[1, 1] + c[2, 2] + 2 * (c[0, 1] + c[0, 2] + c[1, 2])) / 9
    gv = (c[0, 0] + c[1, 1] + c[2, 2] - (c[0, 1] + c[0, 2] + c[1, 2])
          + 3 * (c[3, 3] + c[4, 4] + c[5, 5])) / 15
    br = 1 / (s[0, 0] + s[1, 1] + s[2, 2] + 2 * (s[0, 1] + s[0, 2] + s[1, 2]))
    gr = 15 / (4 * (s[0, 0] + s[1, 1] + s[2, 2]) - 4 * (s[0, 1] + s[0, 2] + s[1, 2])
               + 3 * (s[3, 3] + s[4, 4] + s[5, 5]))
    return {"B_V": bv, "G_V": gv, "B_R": br, "G_R": gr, "B_H": (bv + br) / 2,
            "G_H": (gv + gr) / 2, "min_eig": float(np.linalg.eigvalsh(c).min())}


def stiffness(strains: list[float], stresses: dict[tuple[int, float], np.ndarray]) -> np.ndarray:
    """The 6x6 stiffness matrix (GPa) from the stresses (ASE's Voigt order and sign)
    of each strain component at each size: C[:, j] is the slope of a straight-line
    fit over the sizes, then symmetrised."""
    c = np.zeros((6, 6))
    for j in range(6):
        sig = np.array([stresses[(j, s)] for s in strains])  # (n, 6)
        c[:, j] = np.polyfit(np.asarray(strains), sig, 1)[0]
    c = (c + c.T) / 2
    return c * EV_A3_TO_GPA


@register
class Elastic(Property):
    """Elastic constants from stress-strain fits: each of the six strain components
    at each size of ``elastic_strains``, ions relaxed (``elastic_relax_ions``; false:
    clamped ions); Voigt, Reuss and Hill moduli; Born stability."""

    name = "elastic"

    def run(self, ctx: Context) -> Run:
        cfg = ctx.cfg
        mode = "relax_ions" if cfg.elastic_relax_ions else "single"
        pts = {f"{j}.{s}": Point(strain_cell(ctx.bulk, j, s), mode=mode, fmax=cfg.fmax)
               for j in range(6) for s in cfg.elastic_strains}
        res = yield pts
        c = stiffness(list(cfg.elastic_strains),
                      {(j, s): np.array(res[f"{j}.{s}"].stress_eV_A3)
                       for j in range(6) for s in cfg.elastic_strains})
        found = Found()
        if ctx.crystal in CUBIC:
            found.scalars["elastic.C11_GPa"] = float(np.mean([c[i, i] for i in range(3)]))
            found.scalars["elastic.C12_GPa"] = float(np.mean([c[0, 1], c[0, 2], c[1, 2]]))
            found.scalars["elastic.C44_GPa"] = float(np.mean([c[i, i] for i in range(3, 6)]))
        else:  # hexagonal
            found.scalars["elastic.C11_GPa"] = float((c[0, 0] + c[1, 1]) / 2)
            found.scalars["elastic.C12_GPa"] = float(c[0, 1])
            found.scalars["elastic.C13_GPa"] = float((c[0, 2] + c[1, 2]) / 2)
            found.scalars["elastic.C33_GPa"] = float(c[2, 2])
            found.scalars["elastic.C44_GPa"] = float((c[3, 3] + c[4, 4]) / 2)
        m = moduli(c)
        for k in ("B_V", "G_V", "B_R", "G_R", "B_H", "G_H"):
            found.scalars[f"elastic.{k}_GPa"] = float(m[k])
        found.scalars["elastic.born_stable"] = float(m["min_eig"] > 0)
        found.curves["elastic.C_GPa"] = {"matrix": c.tolist()}
        return found
