"""The label sets a training reads, checked before it starts (``dp train`` fails on a
damaged one naming no file). A damaged set is named, set aside beside itself
(``<dir>.damaged``), and made again from what it was made of — the stored labels of
its tasks (no first-principles calculation runs again), or, for the initial data
raygen made, the recipe; a damaged set the user gave (``init.data``) stops the run
naming it."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from raygen.actors.labeling import read_outcome
from raygen.errors import RunError
from raygen.science.dataset import label_set_problem, write_labels_by_system
from raygen.state.context import RunContext

log = logging.getLogger("raygen")


def _owner(ctx: RunContext, system: Path) -> tuple[str, Path]:
    """(kind, data folder) of a system: fp, late, init (made by raygen) or given."""
    rd = ctx.rundir
    for parent in [system, *system.parents]:
        if parent.parent == rd.init and parent.name.startswith("data."):
            return "init", parent
        if parent.parent.name == "02.fp" and parent.name.startswith("data."):
            return "fp", parent
        if parent.parent.name == "00.train" and parent.name.startswith("data.late."):
            return "late", parent
        if parent == rd.root:
            break
    return "given", system


def _iteration(folder: Path) -> int:
    return int(folder.parent.parent.name.split(".")[1])


def _set_aside(folder: Path) -> Path:
    dest = folder.with_name(f"{folder.name}.damaged.{time.strftime('%Y%m%d-%H%M%S')}")
    folder.rename(dest)
    return dest


def _remake_from_tasks(ctx: RunContext, folder: Path, tasks: list[Path]) -> int:
    sys_idx = int(folder.name.rsplit(".", 1)[1])
    frames = []
    for t in tasks:
        try:
            outcome = read_outcome(t)
        except Exception as err:  # noqa: BLE001 - a damaged outcome is named
            raise RunError(f"{folder} was damaged and cannot be made again: the label of "
                           f"{t} is unreadable too ({err})") from err
        if outcome is not None and outcome.usable:
            frames.append(outcome.atoms)
    return write_labels_by_system({sys_idx: frames}, ctx.type_map, lambda s: folder)


def repair(ctx: RunContext, systems: list[Path]) -> bool:
    """Check every system a training will read; set aside and make again each damaged
    one. True if any was (the caller then lists the systems again)."""
    from raygen.steps import late_labels
    from raygen.steps.label import fp_tasks
    from raygen.steps.prepare import prepare_init_data

    rd, repaired, init_again = ctx.rundir, False, False
    for system in systems:
        why = label_set_problem(system)
        if why is None:
            continue
        kind, folder = _owner(ctx, system)
        if kind == "given":
            raise RunError(f"init.data: {why}; raygen did not make these labels, so it "
                           "cannot make them again: repair or remove that system")
        if not folder.exists():
            continue  # set aside already (another composition of the same folder)
        aside = _set_aside(folder)
        log.warning("damaged label set: %s; set aside as %s, made again from %s", why,
                    aside.name, "the initial-data recipe" if kind == "init"
                    else "its tasks' stored labels")
        if kind == "init":
            init_again = True
        elif kind == "fp":
            ii = _iteration(folder)
            s = int(folder.name.split(".")[1])
            tasks = [rd.fp_task_dir(ii, t["fp_task"]) for t in fp_tasks(ctx, ii)
                     if t["sys_idx"] == s]
            _remake_from_tasks(ctx, folder, tasks)
        else:
            ii = _iteration(folder)
            s = int(folder.name.rsplit(".", 1)[1])
            entries = late_labels.collected(ctx, ii)
            tasks = [rd.fp_task_dir(e["iteration"], e["fp_task"]) for e in entries
                     if e["sys_idx"] == s]
            _remake_from_tasks(ctx, folder, tasks)
        repaired = True
    if init_again:
        ctx.init_systems = prepare_init_data(ctx.cfg, rd)
    return repaired
