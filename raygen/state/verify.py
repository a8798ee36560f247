"""A resume that trusts nothing blindly: each recorded step's output is checked
against its content before the run goes on.

``record.raygen`` says which steps are done; a file cut short, deleted or edited by
hand (or a record rolled back by a user) can make that untrue. Before resuming an
iteration, :func:`first_inconsistent_step` reads what each recorded step left —
frozen models, trajectories and their deviations (row counts that must agree), the
collected deviation table, the selection and its labelling tasks, outcomes and
labels — and returns the first step that has to run again, having removed the
inconsistent marks (a trajectory that cannot be read, a ``model_devi.out`` whose rows
disagree with its trajectory, an ``outcome.json`` or label that cannot be read). Each
finding is a warning naming the file. Nothing labelled is deleted: a labelling folder
that no longer matches its selection is kept aside as ``02.fp.stale.N``.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Optional

import pyarrow.parquet as pq

from raygen.config.schema import ModelDeviJob
from raygen.science.deviation import read_model_devi
from raygen.state.context import RunContext
from raygen.state.workdir import FRAME_FILE, LABELED_FILE, OUTCOME_FILE

log = logging.getLogger("raygen")

# indices in raygen.steps.table.STEPS
POST_TRAIN, RUN_MODEL_DEVI, POST_MODEL_DEVI, MAKE_FP, RUN_FP, POST_FP = 2, 4, 5, 6, 7, 8


def _rows(path: Path, read) -> Optional[int]:
    try:
        return read(path)
    except Exception:  # noqa: BLE001 - any unreadable file is a finding, not a crash
        return None


def _traj_rows(path: Path) -> Optional[int]:
    return _rows(path, lambda p: pq.read_metadata(p).num_rows)


def _devi_rows(path: Path) -> Optional[int]:
    return _rows(path, lambda p: len(read_model_devi(p)[0]))


def _warn(what: str) -> None:
    log.warning("resume check: %s; redoing it", what)


def _check_train(ctx: RunContext, ii: int) -> bool:
    ok = True
    for m in range(ctx.cfg.train.numb_models):
        g = ctx.rundir.graph(ii, m, ctx.backend)
        if g.exists() and g.stat().st_size == 0:
            _warn(f"{g} is empty")
            g.unlink()
        if not g.exists():
            ok = False
            _warn(f"{g} is missing")
    return ok


def _check_md(ctx: RunContext, ii: int, job: ModelDeviJob) -> bool:
    rd, ok = ctx.rundir, True
    for t in ctx.md_tasks(ii, job):
        traj, devi = rd.traj(ii, t.task_id), rd.model_devi_out(ii, t.task_id)
        n_traj = _traj_rows(traj) if traj.exists() else None
        if traj.exists() and n_traj is None:
            _warn(f"{traj} cannot be read")
            traj.unlink()
            devi.unlink(missing_ok=True)
            ok = False
            continue
        if not devi.exists():
            if n_traj:  # frames without deviations: the task is not done
                _warn(f"{devi} is missing for the {n_traj} frames of {traj.name}")
                ok = False
            continue
        n_devi = _devi_rows(devi)
        if n_devi is None or n_traj is None or n_devi != n_traj:
            _warn(f"{devi} has {n_devi if n_devi is not None else 'unreadable'} rows, "
                  f"its trajectory {n_traj if n_traj is not None else 'none'}")
            devi.unlink()
            ok = False
    return ok


def _check_deviations(ctx: RunContext, ii: int, job: ModelDeviJob) -> bool:
    rd = ctx.rundir
    expected = sum(_devi_rows(rd.model_devi_out(ii, t.task_id)) or 0
                   for t in ctx.md_tasks(ii, job) if rd.model_devi_out(ii, t.task_id).exists())
    got = _traj_rows(rd.deviations(ii)) if rd.deviations(ii).exists() else None
    if got != expected:
        _warn(f"{rd.deviations(ii)} has {got} rows, the tasks' model_devi.out {expected}")
        return False
    return True


def _check_selection(ctx: RunContext, ii: int) -> bool:
    rd = ctx.rundir
    try:
        sel = json.loads(rd.selection(ii).read_text())
        listed = sum(s["accurate"] + s["candidate"] + s["failed"]
                     for s in sel["systems"].values())
        tasks = sel["tasks"]
    except (OSError, ValueError, KeyError, TypeError):
        _warn(f"{rd.selection(ii)} cannot be read")
        return False
    rows = _traj_rows(rd.deviations(ii))
    skip = ctx.cfg.explore.model_devi_skip
    if skip == 0 and rows is not None and listed != rows:
        _warn(f"{rd.selection(ii)} lists {listed} frames, the deviations have {rows}")
        return False
    missing = [t["fp_task"] for t in tasks
               if not (rd.fp_task_dir(ii, t["fp_task"]) / FRAME_FILE).exists()]
    if missing:
        _warn(f"labelling tasks {missing[:5]} of {rd.selection(ii)} have no {FRAME_FILE}")
        return False
    return True


def _check_outcomes(ctx: RunContext, ii: int) -> bool:
    """Every outcome readable (and its label, when converged). With
    ``label.proceed_ratio`` < 1, tasks may still lack one (they run late) as long as
    enough are done."""
    from raygen.selection.budget import proceed_count

    rd, ok = ctx.rundir, True
    tasks = json.loads(rd.selection(ii).read_text())["tasks"]
    ratio = float(ctx.cfg.label.proceed_ratio)
    done = 0
    for t in tasks:
        d = rd.fp_task_dir(ii, t["fp_task"])
        if ratio < 1 and not (d / OUTCOME_FILE).exists():
            continue
        try:
            status = json.loads((d / OUTCOME_FILE).read_text())["status"]
            if status == "converged" and _rows(d / LABELED_FILE, _read_label) is None:
                raise ValueError
            done += 1
        except (OSError, ValueError, KeyError, TypeError):
            _warn(f"{d / OUTCOME_FILE} or its label cannot be read")
            (d / OUTCOME_FILE).unlink(missing_ok=True)
            ok = False
    if ok and ratio < 1 and done < proceed_count(len(tasks), ratio):
        _warn(f"{rd.fp(ii)}: {done} of {len(tasks)} labels done, fewer than "
              f"label.proceed_ratio={ratio:g} asks")
        ok = False
    return ok


def _read_label(path: Path) -> int:
    from ase.io import read

    atoms = read(path)
    atoms.get_forces()
    return len(atoms)


def _check_collected(ctx: RunContext, ii: int) -> bool:
    rd = ctx.rundir
    for path in (rd.collected(ii), rd.summary(ii)):
        try:
            json.loads(path.read_text())
        except (OSError, ValueError):
            _warn(f"{path} cannot be read")
            return False
    return True


def first_inconsistent_step(ctx: RunContext, ii: int, done: int,
                            job: ModelDeviJob) -> Optional[int]:
    """The first step (index in STEPS) of iteration ``ii`` to run again, given that
    steps ``0..done`` are recorded as done; None when every recorded output agrees."""
    checks = [(POST_TRAIN, 1, lambda: _check_train(ctx, ii)),
              (RUN_MODEL_DEVI, RUN_MODEL_DEVI, lambda: _check_md(ctx, ii, job)),
              (POST_MODEL_DEVI, POST_MODEL_DEVI, lambda: _check_deviations(ctx, ii, job)),
              (MAKE_FP, MAKE_FP, lambda: _check_selection(ctx, ii)),
              (RUN_FP, RUN_FP, lambda: _check_outcomes(ctx, ii)),
              (POST_FP, POST_FP, lambda: _check_collected(ctx, ii))]
    for step, redo_from, check in checks:
        if step > done:
            break
        if not check():
            return redo_from
    return None
