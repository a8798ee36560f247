"""Before iteration 0: starting configurations and initial data (DP-GEN's init_bulk).

- ``init/confs/<system>/relaxed.extxyz`` — the system relaxed with the labeler's
  reference calculator (cell too, for bulk);
- ``init/confs/<system>/conf.NNN.extxyz`` — its ``n_confs`` randomly perturbed
  copies, the starting points of every MD task of that system;
- ``init/data.<system>/`` — labelled frames of short MD runs from scaled and
  perturbed copies (only when ``init.data`` is empty). With a labeler that has
  an ASE calculator in raygen's Python (EMT) the MD runs here; with one that runs
  as a program (CP2K, GPAW, ...) the scaled and perturbed frames themselves are
  labelled, each a labelling task of its own (``init/label.<system>/task.*``),
  so a whole run can be first-principles from its first frame.

Each file is written atomically and skipped when present, so a restart never
redoes this work. The relaxations and MD runs are Ray tasks.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import ray
from ase import Atoms
from ase.io import read, write

from raygen.actors.labeling import label_tasks, read_outcome
from raygen.atomic import atomic_write, atomic_write_text, replace_dir
from raygen.cluster import get
from raygen.config.schema import RaygenConfig, SystemConfig, conf_files
from raygen.errors import RunError
from raygen.labelers import make_labeler
from raygen.science.dataset import deepmd_systems, init_md_frames, write_deepmd_npy
from raygen.science.structures import build_system, perturb, relax, scale_cell, strained_copies
from raygen.state.context import RunContext
from raygen.state.workdir import RunDir

log = logging.getLogger("raygen")


def _relaxed(sys_cfg, label_cfg) -> Atoms:
    atoms = build_system(sys_cfg)
    calc = make_labeler(label_cfg).reference_calculator()
    if SystemConfig.relaxes(sys_cfg) and calc is not None:
        atoms = relax(atoms, calc, cell=sys_cfg.structure == "bulk")
    return atoms


def _init_md(start: Atoms, label_cfg, init_cfg, seed: int) -> list[Atoms]:
    calc = make_labeler(label_cfg).reference_calculator()
    return init_md_frames(start, calc, init_cfg, seed)


relax_task = ray.remote(_relaxed)
init_md_task = ray.remote(_init_md)


def _write_atoms(path: Path, atoms: Atoms) -> None:
    atomic_write(path, lambda tmp: write(tmp, atoms, format="extxyz"))


def given_confs(confs) -> list[Atoms]:
    """Every frame of the files ``confs`` (a glob or a list of globs) matches, each glob's
    in name order."""
    frames: list[Atoms] = []
    for path in conf_files(confs):
        frames += read(path, index=":")
    return frames


def prepare_confs(cfg: RaygenConfig, rundir: RunDir) -> dict[int, list[Path]]:
    """Relaxed structure and perturbed starting configurations of every system
    (or, for a system with ``confs``, its given configurations as they are)."""
    for s in cfg.systems:
        if s.confs and not rundir.relaxed(s.name).exists():
            given = given_confs(s.confs)
            for k, conf in enumerate(given):
                if not rundir.conf(s.name, k).exists():
                    _write_atoms(rundir.conf(s.name, k), conf)
            _write_atoms(rundir.relaxed(s.name), given[0])  # written last: the mark
    need = [i for i, s in enumerate(cfg.systems) if not rundir.relaxed(s.name).exists()]
    opts = {"num_cpus": cfg.cluster.labeler.num_cpus}
    refs = {i: relax_task.options(**opts).remote(cfg.systems[i], cfg.label) for i in need}
    for i, ref in refs.items():
        _write_atoms(rundir.relaxed(cfg.systems[i].name), get(ref))
    confs: dict[int, list[Path]] = {}
    for i, s in enumerate(cfg.systems):
        if s.confs:  # written above, before their mark: no need to read the files again
            n = 0
            while rundir.conf(s.name, n).exists():
                n += 1
            confs[i] = [rundir.conf(s.name, k) for k in range(n)]
            log.info("system %s: %d given configurations (%d atoms in the first)", s.name, n,
                     len(read(rundir.relaxed(s.name))))
            continue
        relaxed = read(rundir.relaxed(s.name))
        log.info("system %s: %d atoms (%s), %d starting configurations", s.name, len(relaxed),
                 relaxed.get_chemical_formula(), s.n_confs)
        rng = np.random.default_rng([i, 7])
        paths = []
        for k in range(s.n_confs):
            p = rundir.conf(s.name, k)
            conf = perturb(relaxed, rng, s.atom_pert, s.cell_pert)  # draw even if cached
            if not p.exists():
                _write_atoms(p, conf)
            paths.append(p)
        confs[i] = paths
    return confs


def _label_starts(cfg: RaygenConfig, rundir: RunDir, name: str, starts: list[Atoms]) -> list:
    """Label the starting frames of ``name`` as labelling tasks (each durable: a
    restart labels only what is not done); the converged ones."""
    todo = [k for k in range(len(starts))
            if read_outcome(rundir.init_label_task(name, k)) is None]
    for k, outcome in label_tasks(cfg.label, cfg.cluster.labeler,
                                  int(cfg.cluster.threads_per_worker), todo,
                                  lambda k: rundir.init_label_task(name, k),
                                  lambda k: starts[k]):
        if not outcome.usable:
            log.warning("initial data %s task %d: %s %s", name, k, outcome.status.value,
                        outcome.message)
    outcomes = [read_outcome(rundir.init_label_task(name, k)) for k in range(len(starts))]
    frames = [o.atoms for o in outcomes if o is not None and o.usable]
    if not frames:
        first = next((o for o in outcomes if o is not None), None)
        raise RunError(f"initial data of {name}: none of {len(starts)} frames was labelled"
                       + (f"; {first.status.value}: {first.message}" if first else "")
                       + f" (see {rundir.init_label_task(name, 0).parent})")
    return frames


def prepare_init_data(cfg: RaygenConfig, rundir: RunDir) -> list[Path]:
    """deepmd/npy systems of the initial data: given, or made here."""
    if cfg.init.data:
        return [p for d in cfg.init.data for p in deepmd_systems(Path(d))]
    by_name = {s.name: i for i, s in enumerate(cfg.systems)}
    opts = {"num_cpus": cfg.cluster.labeler.num_cpus}
    run_md = make_labeler(cfg.label).reference_calculator() is not None
    jobs = {}
    for name in cfg.init.systems:
        if rundir.init_data_done(name).exists():
            continue
        relaxed = read(rundir.relaxed(name))
        rng = np.random.default_rng([by_name[name], 11])
        cells = ([scale_cell(relaxed, scale) for scale in cfg.init.scales]
                 + strained_copies(relaxed, list(cfg.init.strains)))
        starts = [perturb(cell, rng, cfg.init.atom_pert, cfg.init.cell_pert)
                  for cell in cells for _ in range(cfg.init.n_perturb)]
        if run_md:
            jobs[name] = [init_md_task.options(**opts).remote(
                start, cfg.label, cfg.init, seed=k + 1000 * by_name[name])
                for k, start in enumerate(starts)]
        else:
            jobs[name] = starts
    for name, refs in jobs.items():
        if run_md:
            frames = [a for chunk in get(refs) for a in chunk]
        else:
            frames = _label_starts(cfg, rundir, name, refs)
        replace_dir(rundir.init_data(name),
                    lambda tmp, frames=frames: write_deepmd_npy(frames, list(cfg.type_map), tmp))
        atomic_write_text(rundir.init_data_done(name), f"{len(frames)}\n")
        log.info("initial data: %d labelled frames of %s in %s", len(frames), name,
                 rundir.init_data(name))
    return [p for name in cfg.init.systems for p in deepmd_systems(rundir.init_data(name))]


def prepare(ctx: RunContext) -> None:
    """Before the first step of a (re)start: the systems' starting configurations and
    the initial data, made once and found on disk afterwards."""
    t0 = time.perf_counter()
    ctx.confs = prepare_confs(ctx.cfg, ctx.rundir)
    ctx.init_systems = prepare_init_data(ctx.cfg, ctx.rundir)
    log.info("prepared in %.1f s: %d systems, %d initial data systems",
             time.perf_counter() - t0, len(ctx.confs), len(ctx.init_systems))
