"""Held-out Cu configurations for the Cu example, labelled with EMT.

Configurations a ``+exp=cu`` run never explores: other crystal phases (sc,
diamond, dhcp) over a range of volumes, surfaces not explored (fcc(110),
bcc(100)), point defects in a larger cell (vacancy, interstitial), and the hot
solid/liquid from reference MD at 1500-3000 K. Written as deepmd/npy, one folder
per set, so the general scorer reads them like any labelled data::

    python -m raygen.examples.cu_holdout cu_holdout
    python -m raygen.report.holdout cu_run/models cu_holdout/*
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

from raygen.science.dataset import labelled_copy, write_deepmd_npy
from raygen.science.structures import perturb, relax

SET_NAMES = {"phases sc/diamond/dhcp": "phases", "EOS fcc/bcc/hcp 0.86-1.10 a": "eos",
             "surfaces fcc(110), bcc(100)": "surfaces",
             "defects vacancy/interstitial (108 atoms)": "defects",
             "hot MD 1500/2200/3000 K": "hot_md"}


def _label(atoms: Atoms) -> Atoms:
    atoms = atoms.copy()
    atoms.calc = EMT()
    return labelled_copy(atoms)


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



def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="folder for the sets (deepmd/npy)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    for name, frames in holdout_sets(args.seed).items():
        n = write_deepmd_npy(frames, ["Cu"], args.out / SET_NAMES[name])
        print(f"{SET_NAMES[name]:10s} {n:4d} frames  ({name})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
