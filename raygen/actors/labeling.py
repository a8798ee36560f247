"""Labelling as Ray CPU tasks, one per selected frame.

A task writes the labeler's inputs in its directory, runs the code, judges the
output and writes ``labeled.extxyz`` (converged results only) and then
``outcome.json``, the durable mark that the frame is done: a restarted run
reads it back instead of labelling again.

Inside the task, a crashed or timed-out calculation is tried again (up to
``label.max_retries``), and one whose SCF did not converge is tried once more with
``label.fallback`` when the user gave fallback settings; each earlier attempt's
files are kept in ``attempt.N/`` and listed in ``outcome.json``. A worker that dies
(kill -9, a lost node) is Ray's to retry: the task is simply run again.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import ray
from ase import Atoms
from ase.io import read, write

from raygen.actors.threads import set_threads
from raygen.atomic import atomic_write, atomic_write_json
from raygen.cluster import bounded, ray_options
from raygen.labelers import TRANSIENT, LabelOutcome, LabelStatus, TransientLabelError, make_labeler
from raygen.state.workdir import FRAME_FILE, LABELED_FILE, OUTCOME_FILE


def read_outcome(task_dir: Path) -> LabelOutcome | None:
    """The stored outcome of a finished task, or None if it has not finished."""
    path = task_dir / OUTCOME_FILE
    if not path.exists():
        return None
    rec = json.loads(path.read_text())
    status = LabelStatus(rec["status"])
    atoms = read(task_dir / LABELED_FILE) if status is LabelStatus.CONVERGED else None
    return LabelOutcome(status, atoms=atoms, message=rec.get("message", ""),
                        wall_time=rec.get("wall_time", 0.0), attempts=rec.get("attempts", []))


def _set_aside(task_dir: Path, k: int) -> None:
    """Move attempt ``k``'s files (all but the frame) into ``attempt.k/``."""
    keep = task_dir / f"attempt.{k}"
    keep.mkdir(exist_ok=True)
    for p in task_dir.iterdir():
        if p.name != FRAME_FILE and not p.name.startswith("attempt."):
            shutil.move(str(p), keep / p.name)


def label_frame(label_cfg, atoms: Atoms, task_dir: str, threads: int = 1,
                cpus: int = 1) -> LabelOutcome:
    """Label one frame in ``task_dir`` on ``cpus`` cores (skipped when already done)."""
    tdir = Path(task_dir)
    done = read_outcome(tdir)
    if done is not None:
        return done
    set_threads(threads)
    fallback = dict(getattr(label_cfg, "fallback", None) or {})
    retries_left, used_fallback, extra = int(label_cfg.max_retries), False, None
    attempts: list[dict] = []
    while True:
        outcome = make_labeler(label_cfg).label(atoms, tdir, cpus=cpus, extra=extra)
        attempts.append({"status": outcome.status.value, "message": outcome.message,
                         "wall_time": outcome.wall_time, "fallback": used_fallback})
        if outcome.status in TRANSIENT and retries_left > 0:
            retries_left -= 1
        elif (outcome.status is LabelStatus.SCF_UNCONVERGED and fallback
              and not used_fallback):
            used_fallback, extra = True, fallback
        else:
            break
        _set_aside(tdir, len(attempts))
    outcome.attempts = attempts
    if outcome.usable:
        atomic_write(tdir / LABELED_FILE,
                     lambda tmp: write(tmp, outcome.atoms, format="extxyz"))
    atomic_write_json(tdir / OUTCOME_FILE, {"status": outcome.status.value,
                                            "message": outcome.message,
                                            "wall_time": sum(a["wall_time"] for a in attempts),
                                            "attempts": attempts})
    return outcome


label_frame_task = ray.remote(label_frame)


def submit_label(label_cfg, res, threads: int, task_dir, atoms: Atoms) -> ray.ObjectRef:
    """One labelling task on ``res.num_cpus`` cores (a lost worker or a
    :class:`TransientLabelError` is Ray's to retry)."""
    return label_frame_task.options(
        **ray_options(res), max_retries=label_cfg.max_retries,
        retry_exceptions=[TransientLabelError],
    ).remote(label_cfg, atoms, str(task_dir), threads, max(1, int(res.num_cpus)))


def label_tasks(label_cfg, res, threads: int, todo: Iterable, task_dir_of: Callable,
                atoms_of: Callable) -> Iterator[tuple]:
    """Label each item of ``todo`` as a Ray task on ``res.num_cpus`` cores (its frame
    from ``atoms_of(item)``, in ``task_dir_of(item)``), at most ``2 * res.count`` in
    flight so results stream back; yield (item, outcome) as each finishes. A lost
    worker or a :class:`TransientLabelError` is Ray's to retry."""
    def submit(item):
        return submit_label(label_cfg, res, threads, task_dir_of(item), atoms_of(item))

    yield from bounded(submit, todo, max_in_flight=max(1, res.count) * 2)
