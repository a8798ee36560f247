"""Labelling as Ray CPU tasks, one per selected frame.

A task writes the labeler's inputs in its directory, runs the code, judges the
output and writes ``labeled.extxyz`` (converged results only) and then
``outcome.json``, the durable mark that the frame is done: a restarted run
reads it back instead of labelling again.
"""

from __future__ import annotations

import json
from pathlib import Path

import ray
from ase import Atoms
from ase.io import read, write

from raygen.actors.threads import set_threads
from raygen.atomic import atomic_write, atomic_write_json
from raygen.labelers import LabelOutcome, LabelStatus, make_labeler
from raygen.workdir import LABELED_FILE, OUTCOME_FILE


def read_outcome(task_dir: Path) -> LabelOutcome | None:
    """The stored outcome of a finished task, or None if it has not finished."""
    path = task_dir / OUTCOME_FILE
    if not path.exists():
        return None
    rec = json.loads(path.read_text())
    status = LabelStatus(rec["status"])
    atoms = read(task_dir / LABELED_FILE) if status is LabelStatus.CONVERGED else None
    return LabelOutcome(status, atoms=atoms, message=rec.get("message", ""),
                        wall_time=rec.get("wall_time", 0.0))


def label_frame(label_cfg, atoms: Atoms, task_dir: str, threads: int = 1) -> LabelOutcome:
    """Label one frame in ``task_dir`` (skipped when already done)."""
    tdir = Path(task_dir)
    done = read_outcome(tdir)
    if done is not None:
        return done
    set_threads(threads)
    outcome = make_labeler(label_cfg).label(atoms, tdir)
    if outcome.usable:
        atomic_write(tdir / LABELED_FILE,
                     lambda tmp: write(tmp, outcome.atoms, format="extxyz"))
    atomic_write_json(tdir / OUTCOME_FILE, {"status": outcome.status.value,
                                            "message": outcome.message,
                                            "wall_time": outcome.wall_time})
    return outcome


label_frame_task = ray.remote(label_frame)
