"""Labelled data: DP-GEN's ``init_bulk`` recipe and deepmd/npy collection (dpdata).

Plain functions; the loop runs :func:`init_md_frames` as Ray tasks.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import dpdata
import numpy as np
from ase import Atoms, units
from ase.calculators.calculator import Calculator
from ase.calculators.singlepoint import SinglePointCalculator
from ase.md.langevin import Langevin
from ase.md.velocitydistribution import MaxwellBoltzmannDistribution, Stationary

from raygen.atomic import replace_dir

if TYPE_CHECKING:  # annotations only: science does not depend on the schema
    from raygen.config.schema import InitConfig



def labelled_copy(atoms: Atoms) -> Atoms:
    """A detached copy carrying energy, forces and stress as a SinglePointCalculator."""
    out = atoms.copy()
    out.calc = SinglePointCalculator(
        out, energy=atoms.get_potential_energy(), forces=atoms.get_forces(),
        stress=atoms.get_stress())
    return out


def init_md_frames(start: Atoms, calc: Calculator, cfg: InitConfig,
                   seed: int) -> list[Atoms]:
    """Short MD from one perturbed structure, every ``md_stride``-th frame labelled.

    DP-GEN's ``init_bulk`` runs a 20-step AIMD at 50 K with the first-principles
    code; here the labeler's reference calculator drives a Langevin MD.
    """
    atoms = start.copy()
    atoms.calc = calc
    rng = np.random.default_rng(seed)
    MaxwellBoltzmannDistribution(atoms, temperature_K=cfg.md_temperature, rng=rng)
    Stationary(atoms)
    frames = [labelled_copy(atoms)]
    dyn = Langevin(atoms, timestep=cfg.md_timestep_fs * units.fs,
                   temperature_K=cfg.md_temperature, friction=0.02, fixcm=False,
                   rng=rng)
    for step in range(1, cfg.md_steps + 1):
        dyn.run(1)
        if step % cfg.md_stride == 0:
            frames.append(labelled_copy(atoms))
    return frames


def to_labeled_system(atoms: Atoms, type_map: list[str]) -> dpdata.LabeledSystem:
    return dpdata.LabeledSystem(atoms, fmt="ase/structure", type_map=type_map)


def write_deepmd_npy(frames: Iterable[Atoms], type_map: list[str], out_dir: Path) -> int:
    """Write labelled frames as deepmd/npy under ``out_dir`` (one sub-folder per
    composition, as dpdata's MultiSystems names them). Returns the frame count."""
    multi = dpdata.MultiSystems(type_map=type_map)
    count = 0
    for atoms in frames:
        multi.append(to_labeled_system(atoms, type_map))
        count += 1
    if count:
        out_dir.mkdir(parents=True, exist_ok=True)
        multi.to_deepmd_npy(str(out_dir))
    return count


def write_labels_by_system(by_sys: dict[int, list[Atoms]], type_map: list[str],
                           dir_of: Callable[[int], Path]) -> int:
    """Each system's labelled frames as deepmd/npy in ``dir_of(sys_idx)``, each folder
    replaced atomically (a kill leaves the old one or the new one, never half). Returns
    the frames written."""
    added = 0
    for s, frames in sorted(by_sys.items()):
        def fill(tmp, frames=frames):
            nonlocal added
            added += write_deepmd_npy(frames, type_map, tmp)
        replace_dir(dir_of(s), fill)
    return added


def deepmd_systems(root: Path) -> list[Path]:
    """Every deepmd/npy system (a folder with ``type.raw``) below ``root``."""
    return sorted(p.parent for p in Path(root).rglob("type.raw"))


def system_type_map(system_dir: Path) -> list[str]:
    """The element names a deepmd/npy system declares (``type_map.raw``)."""
    tm = Path(system_dir) / "type_map.raw"
    return tm.read_text().split() if tm.exists() else []


def count_frames(system_dirs: Iterable[Path]) -> int:
    total = 0
    for d in system_dirs:
        for box in Path(d).glob("set.*/box.npy"):
            total += np.load(box, mmap_mode="r").shape[0]
    return total


def label_set_problem(system_dir: Path) -> str | None:
    """What is wrong with one deepmd/npy system a training would read (None: it reads
    as deepmd-kit expects): ``type.raw`` and every ``set.*`` array loadable, frame
    counts equal across arrays, shapes matching the atom count, values finite. Names
    the file. (``dp train`` itself fails on such data naming none.)"""
    d = Path(system_dir)
    try:
        types = np.loadtxt(d / "type.raw", dtype=int, ndmin=1)
    except (OSError, ValueError) as err:
        return f"{d / 'type.raw'}: unreadable ({str(err).splitlines()[0][:120]})"
    natoms = types.size
    if natoms == 0:
        return f"{d / 'type.raw'}: no atoms"
    sets = sorted(d.glob("set.*"))
    if not sets:
        return f"{d}: no set.* folder"
    shapes = {"box": 9, "coord": 3 * natoms, "energy": 1, "force": 3 * natoms,
              "virial": 9}
    for s in sets:
        frames = None
        for name, width in shapes.items():
            f = s / f"{name}.npy"
            if not f.exists():
                if name == "virial":
                    continue
                return f"{f}: missing"
            try:
                arr = np.load(f, allow_pickle=False)
            except (OSError, ValueError, EOFError) as err:
                return f"{f}: unreadable ({str(err).splitlines()[0][:120]})"
            n = arr.shape[0] if arr.ndim else 0
            if arr.size != n * width or n == 0:
                return (f"{f}: shape {arr.shape} does not fit {natoms} atoms "
                        f"({width} values per frame)")
            if frames is not None and n != frames:
                return f"{f}: {n} frames, the other arrays of {s.name} have {frames}"
            frames = n
            if not np.all(np.isfinite(arr)):
                return f"{f}: holds NaN or infinite values"
    return None


def system_paths(patterns: list[str]) -> list[str]:
    """Every system ``patterns`` name: a deepmd/npy system folder, a folder of them
    (found below it), a glob of either, or ``file.h5#/path`` (deepmd/hdf5)."""
    out: list[str] = []
    for pattern in patterns:
        if "#" in pattern:
            out.append(pattern)
            continue
        for match in sorted(glob.glob(os.path.expanduser(pattern))):
            out += [str(p) for p in deepmd_systems(Path(match))]
    return list(dict.fromkeys(out))


def data_set_problems(patterns: list[str], labeled: bool, key: str) -> list[str]:
    """What is wrong with the data set ``patterns`` name (:func:`system_paths`), before
    any work starts; ``labeled``: every set must hold energies and forces."""
    if not patterns:
        return [f"{key}: is empty; give the deepmd/npy data set(s) to simplify"]
    out = []
    for pattern in patterns:
        if "#" in pattern:
            if not Path(pattern.split("#", 1)[0]).is_file():
                out.append(f"{key}: {pattern.split('#', 1)[0]} does not exist")
            continue
        matches = glob.glob(os.path.expanduser(pattern))
        if not matches:
            out.append(f"{key}: {pattern} matches nothing")
        elif not any(deepmd_systems(Path(m)) for m in matches):
            out.append(f"{key}: {pattern} holds no deepmd/npy system (no type.raw below it)")
    if out or not labeled:
        return out
    for path in system_paths(patterns):
        if "#" in path:
            continue
        sets = sorted(Path(path).glob("set.*"))
        if not sets or not all((s / "energy.npy").exists() and (s / "force.npy").exists()
                               for s in sets):
            out.append(f"{key}: {path} has no energy.npy/force.npy in every set.*, but "
                       "simplify.labeled is true (set it false to label the picked frames)")
    return out
