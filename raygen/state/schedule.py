"""The exploration schedule: which job an iteration runs, and its MD tasks.

Jobs are DP-GEN's ``model_devi_jobs`` (one per iteration), grouped into stages
(e.g. a temperature interval). Without convergence, iteration i+1 runs the next
job; when an iteration's stage converged, the rest of that stage is skipped.
The choice depends only on past iterations' summaries, so a resumed run makes
the same choices.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Optional


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
class MDTask:
    """One MD run of an exploration job."""

    task_id: str
    sys_idx: int
    conf_idx: int
    temp: float
    press: Optional[float]
    ensemble: str
    nsteps: int
    trj_freq: int
    seed: int

    def to_dict(self) -> dict:
        return asdict(self)


def expand_job(job, n_confs: Sequence[int], iteration: int, seed: int = 0) -> list[MDTask]:
    """Every (configuration, temperature, pressure) of every system in ``job``.

    ``n_confs[s]`` is the number of starting configurations of system ``s``; the
    job uses the first ``confs_per_sys`` of them (all when null).
    """
    tasks = []
    pressures = list(job.press) if job.ensemble.startswith("npt") else [None]
    for s in job.sys_idx:
        n = n_confs[s] if job.confs_per_sys is None else min(job.confs_per_sys, n_confs[s])
        k = 0
        for c in range(n):
            for temp in job.temps:
                for press in pressures:
                    task_seed = (seed * 7919 + iteration * 104729 + s * 1009 + k) % 900_000_000 + 1
                    tasks.append(MDTask(f"task.{s:03d}.{k:06d}", s, c, float(temp),
                                        None if press is None else float(press),
                                        job.ensemble, job.nsteps, job.trj_freq, task_seed))
                    k += 1
    return tasks
