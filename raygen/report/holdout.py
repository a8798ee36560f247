"""Accuracy of a trained ensemble on Cu configurations a run never saw.

The reference is ASE's EMT (the embedded labeler), so the check needs no DFT:
other crystal phases (sc, diamond, dhcp) over a range of volumes, a surface not
explored (fcc(110), bcc(100)), point defects in a larger cell (vacancy,
interstitial), and the hot solid/liquid from reference MD at 1500-3000 K.

``python -m raygen.report.holdout cu_run/models`` prints one row per set:
energy RMSE (meV/atom), force RMSE (eV/Å) and the ensemble's mean max_devi_f.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from ase import Atoms, units
from ase.build import bulk, surface
from ase.calculators.emt import EMT
from ase.md.langevin import Langevin
from ase.md.velocitydistribution import MaxwellBoltzmannDistribution, Stationary

from raygen.deviation import ensemble_deviation
from raygen.structures import perturb, relax


def _label(atoms: Atoms) -> Atoms:
    atoms = atoms.copy()
    atoms.calc = EMT()
    atoms.info["e_ref"] = atoms.get_potential_energy()
    atoms.arrays["f_ref"] = atoms.get_forces()
    atoms.calc = None
    return atoms


def _dhcp(a: float) -> Atoms:
    """Double-hexagonal close packing (ABAC), 2x2x1 cells of 4 atoms."""
    cell = Atoms("Cu4", cell=[a, a, 2 * a * np.sqrt(8 / 3), 90, 90, 120], pbc=True,
                 scaled_positions=[[0, 0, 0], [1 / 3, 2 / 3, 1 / 4], [0, 0, 1 / 2],
                                   [2 / 3, 1 / 3, 3 / 4]])
    return cell.repeat((2, 2, 1))


def holdout_sets(seed: int = 0) -> dict[str, list[Atoms]]:
    rng = np.random.default_rng(seed)
    sets: dict[str, list[Atoms]] = {}
    phases = []
    for scale in np.linspace(0.92, 1.06, 8):
        phases.append(bulk("Cu", "sc", a=2.42 * scale).repeat((3, 3, 3)))
        phases.append(bulk("Cu", "diamond", a=5.4 * scale, cubic=True).repeat((2, 2, 2)))
        phases.append(_dhcp(2.55 * scale))
    sets["phases sc/diamond/dhcp"] = [_label(perturb(p, rng, 0.02, 0.0)) for p in phases]
    eos = []
    for crystal, a in (("fcc", 3.6), ("bcc", 2.87), ("hcp", 2.55)):
        for scale in np.linspace(0.86, 1.10, 7):
            cell = bulk("Cu", crystal, a=a * scale, cubic=crystal != "hcp").repeat((2, 2, 2))
            eos.append(_label(perturb(cell, rng, 0.01, 0.0)))
    sets["EOS fcc/bcc/hcp 0.86-1.10 a"] = eos
    slabs = [surface(bulk("Cu", "fcc", a=3.6, cubic=True), (1, 1, 0), layers=2, vacuum=4.0,
                     periodic=True).repeat((1, 2, 1)),
             surface(bulk("Cu", "bcc", a=2.87, cubic=True), (1, 0, 0), layers=4, vacuum=4.0,
                     periodic=True).repeat((2, 2, 1))]
    sets["surfaces fcc(110), bcc(100)"] = [_label(perturb(s, rng, 0.05, 0.0))
                                           for s in slabs for _ in range(5)]
    big = bulk("Cu", "fcc", a=3.6, cubic=True).repeat((3, 3, 3))
    defects = []
    vac = big.copy()
    del vac[0]
    inter = big.copy()
    inter.append("Cu")
    inter.positions[-1] = [1.8, 1.8, 1.8]  # octahedral site; relaxes to a split dumbbell
    vac, inter = (relax(d, EMT(), fmax=0.05, cell=False) for d in (vac, inter))
    for _ in range(4):
        defects.append(_label(perturb(vac, rng, 0.05, 0.0)))
        defects.append(_label(perturb(inter, rng, 0.05, 0.0)))
    sets["defects vacancy/interstitial (108 atoms)"] = defects
    hot = []
    for temp in (1500, 2200, 3000):
        atoms = bulk("Cu", "fcc", a=3.6, cubic=True).repeat((2, 2, 2))
        atoms.calc = EMT()
        MaxwellBoltzmannDistribution(atoms, temperature_K=temp, rng=rng)
        Stationary(atoms)
        dyn = Langevin(atoms, 2 * units.fs, temperature_K=temp, friction=0.05, fixcm=False,
                       rng=rng)
        for _ in range(6):
            dyn.run(100)
            hot.append(_label(atoms))
    sets["hot MD 1500/2200/3000 K"] = hot
    return sets


def evaluate(models: list, frames: list[Atoms]) -> dict[str, float]:
    e_err, f_err, devi = [], [], []
    for atoms in frames:
        coords = atoms.positions.reshape(1, -1)
        cell = atoms.cell.array.reshape(1, 9)
        types = np.zeros(len(atoms), dtype=int)
        preds = [m.eval(coords, cell, types)[:3] for m in models]
        e = np.array([p[0].reshape(1) for p in preds])
        f = np.array([p[1].reshape(1, -1, 3) for p in preds])
        v = np.array([p[2].reshape(1, 9) for p in preds])
        devi.append(ensemble_deviation(e, f, v)[0, 3])
        e_err.append((e.mean() - atoms.info["e_ref"]) / len(atoms))
        f_err.append((f.mean(axis=0)[0] - atoms.arrays["f_ref"]).ravel())
    return {"frames": len(frames),
            "e_rmse_meV_atom": 1000 * float(np.sqrt(np.mean(np.square(e_err)))),
            "f_rmse_eV_A": float(np.sqrt(np.mean(np.square(np.concatenate(f_err))))),
            "mean_max_devi_f": float(np.mean(devi))}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", type=Path, help="folder with graph.*.pb (e.g. cu_run/models)")
    args = parser.parse_args(argv)
    from deepmd.infer import DeepPot

    paths = sorted(args.models.glob("graph.*.pb"))
    if not paths:
        print(f"no graph.*.pb in {args.models}", file=sys.stderr)
        return 2
    models = [DeepPot(str(p)) for p in paths]
    print(f"{'set':42s} {'frames':>6s} {'E rmse meV/atom':>16s} {'F rmse eV/Å':>12s} "
          f"{'<max_devi_f>':>12s}")
    for name, frames in holdout_sets().items():
        r = evaluate(models, frames)
        print(f"{name:42s} {r['frames']:6d} {r['e_rmse_meV_atom']:16.2f} {r['f_rmse_eV_A']:12.4f} "
              f"{r['mean_max_devi_f']:12.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
