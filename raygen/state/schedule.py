"""The exploration schedule: which job an iteration runs, and its MD tasks.

Jobs are DP-GEN's ``model_devi_jobs`` (one per iteration), grouped into stages
(e.g. a temperature interval). Without convergence, iteration i+1 runs the next
job; when an iteration's stage converged, the rest of that stage is skipped.
The choice depends only on past iterations' summaries, so a resumed run makes
the same choices.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Optional


def stage_of(jobs: Sequence, j: int) -> int:
    """A job's stage (its own index when it names none)."""
    return jobs[j].stage if jobs[j].stage is not None else j


def next_job(jobs: Sequence, j: int, stage_converged: bool) -> Optional[int]:
    """The job after ``j``: the next one, or the first of the next stage."""
    k = j + 1
    if stage_converged:
        while k < len(jobs) and stage_of(jobs, k) == stage_of(jobs, j):
            k += 1
    return k if k < len(jobs) else None


def job_of_iteration(jobs: Sequence, ii: int,
                     converged: Callable[[int], bool]) -> Optional[int]:
    """The job iteration ``ii`` runs; ``converged(i)`` tells whether iteration i's
    stage converged. None when the schedule is exhausted."""
    if not jobs:
        return None
    j: Optional[int] = 0
    for i in range(ii):
        j = next_job(jobs, j, converged(i))
        if j is None:
            return None
    return j


@dataclass(frozen=True)
class TaskTemplate:
    """The user LAMMPS template an MD task runs and the values of its keys
    (``(key, value)`` pairs: LAMMPS keys, PLUMED keys)."""

    lmp: str
    plm: Optional[str] = None
    plm_path: Optional[str] = None
    files: tuple[str, ...] = ()
    lmp_keys: tuple[tuple[str, Any], ...] = ()
    plm_keys: tuple[tuple[str, Any], ...] = ()

    def label(self) -> str:
        """The task's revision values in one line (``V_TEMP=300 V_STRIDE=10``)."""
        return " ".join(f"{k}={v}" for k, v in (*self.lmp_keys, *self.plm_keys))


@dataclass(frozen=True)
class MDTask:
    """One MD run of an exploration job (``temp``/``press`` None: a template job that
    sets none)."""

    task_id: str
    sys_idx: int
    conf_idx: int
    temp: Optional[float]
    press: Optional[float]
    ensemble: str
    nsteps: int
    trj_freq: int
    seed: int
    template: Optional[TaskTemplate] = None
    nbeads: Optional[int] = None

    def to_dict(self) -> dict:
        return asdict(self)


def expand_job(job, n_confs: Sequence[int], iteration: int, seed: int = 0,
               nsteps: Optional[dict[int, int]] = None) -> list[MDTask]:
    """Every (configuration, temperature, pressure) of every system in ``job``.

    ``n_confs[s]`` is the number of starting configurations of system ``s``; the
    job uses the first ``confs_per_sys`` of them (all when null). ``nsteps``: a
    system's MD length where it is not the job's own (``explore.grow``).
    """
    tasks = []
    templated = bool(job.template.lmp)
    if templated:  # temperatures and pressures only where the job gives them
        temps = list(job.temps) or [None]
        pressures = list(job.press) if job.temps and job.press else [None]
    else:
        temps = list(job.temps)
        pressures = list(job.press) if job.ensemble.startswith("npt") else [None]
    for s in job.sys_idx:
        n = n_confs[s] if job.confs_per_sys is None else min(job.confs_per_sys, n_confs[s])
        revisions = _templates(job, s) if templated else [None]
        k = 0
        for c in range(n):
            for template in revisions:
                for temp in temps:
                    for press in pressures:
                        task_seed = ((seed * 7919 + iteration * 104729 + s * 1009 + k)
                                     % 900_000_000 + 1)
                        tasks.append(MDTask(
                            f"task.{s:03d}.{k:06d}", s, c,
                            None if temp is None else float(temp),
                            None if press is None else float(press), str(job.ensemble),
                            0 if templated else (nsteps or {}).get(s, job.nsteps),
                            job.trj_freq, task_seed,
                            template, getattr(job, "nbeads", None)))
                        k += 1
    return tasks


def _templates(job, sys_idx: int) -> list[TaskTemplate]:
    """One :class:`TaskTemplate` per revision set of ``job`` for system ``sys_idx``."""
    from raygen.config.merge import plain

    tpl = job.template
    return [TaskTemplate(str(tpl.lmp), tpl.plm and str(tpl.plm),
                         tpl.plm_path and str(tpl.plm_path), tuple(str(f) for f in tpl.files),
                         tuple(lmp), tuple(plm))
            for lmp, plm in revision_sets(plain(job.rev_mat), plain(job.sys_rev_mat), sys_idx)]


def _keyed_values(mat: dict) -> list[tuple[str, str, list]]:
    """(kind, key, values) of a ``{lmp: {KEY: [...]}, plm: {...}}`` mapping, LAMMPS first."""
    return [(kind, str(key), list(vals)) for kind in ("lmp", "plm")
            for key, vals in ((mat or {}).get(kind) or {}).items()]


def revision_sets(rev_mat: Optional[dict], sys_rev_mat: Optional[dict],
                  sys_idx: int) -> list[tuple[list, list]]:
    """Every (LAMMPS, PLUMED) revision of a job for one system as ``(key, value)`` pairs,
    in DP-GEN's order (``_make_model_devi_revmat``): the Cartesian product of ``rev_mat``'s
    value lists (the first key varies slowest), each combined with every combination of
    ``sys_rev_mat[sys_idx]``'s (inner loop); ``rev_mat``'s keys come before the system's.
    Pairs, not mappings: a key given twice is replaced in that order, as DP-GEN does. A
    job without revisions has one empty set."""
    own = (sys_rev_mat or {}).get(str(sys_idx)) or (sys_rev_mat or {}).get(sys_idx) or {}
    pub, pri = _keyed_values(rev_mat), _keyed_values(own)
    out = []
    for a in itertools.product(*(v for _k, _n, v in pub)):
        for b in itertools.product(*(v for _k, _n, v in pri)):
            lmp, plm = [], []
            for (kind, name, _v), value in zip(pub + pri, a + b):
                (lmp if kind == "lmp" else plm).append((name, value))
            out.append((lmp, plm))
    return out
