"""Step 02.fp: pick candidate frames, label them as Ray CPU tasks, collect the data.

Labels stream: each frame is its own task, results are taken as they finish, and
only converged outcomes become training data (``02.fp/data.%03d``, deepmd/npy).
"""

from __future__ import annotations

import json
import logging
import shutil
from collections import Counter

import pyarrow.parquet as pq
from ase.io import read, write

from raygen.actors.explorer import TRAJ_FILE
from raygen.actors.labeling import OUTCOME_FILE, label_frame_task, read_outcome
from raygen.atomic import atomic_write, atomic_write_json
from raygen.cluster import bounded
from raygen.context import RunContext
from raygen.dataset import write_deepmd_npy
from raygen.explore_step import read_deviations
from raygen.frames import row_to_atoms
from raygen.labelers import TransientLabelError
from raygen.report.progress import bar
from raygen.selection.select import select_frames, write_selection_files

log = logging.getLogger("raygen")

FRAME_FILE = "frame.extxyz"
SELECTION_FILE = "selection.json"


def make_fp(ctx: RunContext, ii: int, job) -> dict:
    """Select, write DP-GEN's candidate/rest files and one task dir per chosen frame."""
    rd = ctx.rundir
    selection = select_frames(read_deviations(ctx, ii), ctx.cfg.select, job, ii,
                              ctx.cfg.explore.model_devi_skip)
    write_selection_files(
        selection, lambda kind, s: rd.selection_file(ii, kind, s),
        lambda task_id: (rd.model_devi(ii) / task_id).relative_to(rd.root))
    record = {"systems": {}, "tasks": []}
    for s, sel in selection.items():
        record["systems"][str(s)] = {**sel.counts, "chosen": len(sel.chosen),
                                     "budget": sel.budget,
                                     "accurate_ratio": sel.accurate_ratio,
                                     "f_trust": [sel.levels.f_lo, sel.levels.f_hi]}
        trajs: dict[str, object] = {}
        for k, (task_id, step) in enumerate(sel.chosen):
            fdir = rd.fp_task(ii, s, k)
            record["tasks"].append({"fp_task": fdir.name, "md_task": task_id, "step": step,
                                    "sys_idx": s})
            if (fdir / FRAME_FILE).exists():
                continue
            if task_id not in trajs:
                trajs[task_id] = pq.read_table(rd.model_devi(ii) / task_id / TRAJ_FILE)
            table = trajs[task_id]
            row = table.column("step").to_pylist().index(step)
            atoms = row_to_atoms(table, row, list(ctx.cfg.type_map))
            atoms.info.update({"md_task": task_id, "step": step, "iteration": ii})
            fdir.mkdir(parents=True, exist_ok=True)
            atomic_write(fdir / FRAME_FILE, lambda tmp, a=atoms: write(tmp, a, format="extxyz"))
    atomic_write_json(rd.fp(ii) / SELECTION_FILE, record)
    return record


def fp_tasks(ctx: RunContext, ii: int) -> list[dict]:
    path = ctx.rundir.fp(ii) / SELECTION_FILE
    return json.loads(path.read_text())["tasks"] if path.exists() else []


def run_fp(ctx: RunContext, ii: int) -> None:
    tasks = [t for t in fp_tasks(ctx, ii)
             if not (ctx.rundir.fp(ii) / t["fp_task"] / OUTCOME_FILE).exists()]
    if not tasks:
        return
    res, label = ctx.cfg.cluster.labeler, ctx.cfg.label
    remote = label_frame_task.options(num_cpus=res.num_cpus, num_gpus=res.num_gpus,
                                      max_retries=label.max_retries,
                                      retry_exceptions=[TransientLabelError])

    def submit(t):
        fdir = ctx.rundir.fp(ii) / t["fp_task"]
        return remote.remote(label, read(fdir / FRAME_FILE), str(fdir), ctx.threads)

    statuses: Counter = Counter()
    # at most `count` tasks in flight per labeler slot, so results stream back
    with bar(len(tasks), f"iter {ii} label", ctx.progress) as pbar:
        for t, outcome in bounded(submit, tasks, max_in_flight=max(1, res.count) * 2):
            statuses[outcome.status.value] += 1
            if not outcome.usable:
                log.warning("iter %d %s: %s %s", ii, t["fp_task"], outcome.status.value,
                            outcome.message)
            pbar.update(1)
    log.info("iter %d label: %s", ii, dict(statuses))


def post_fp(ctx: RunContext, ii: int) -> dict:
    """Converged labels of each system into ``02.fp/data.%03d``; counts by status."""
    by_sys: dict[int, list] = {}
    statuses: Counter = Counter()
    for t in fp_tasks(ctx, ii):
        outcome = read_outcome(ctx.rundir.fp(ii) / t["fp_task"])
        if outcome is None:
            statuses["missing"] += 1
            continue
        statuses[outcome.status.value] += 1
        if outcome.usable:
            by_sys.setdefault(t["sys_idx"], []).append(outcome.atoms)
    added = 0
    for s, frames in sorted(by_sys.items()):
        out = ctx.rundir.fp_data(ii, s)
        tmp = out.with_name(out.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        added += write_deepmd_npy(frames, list(ctx.cfg.type_map), tmp)
        shutil.rmtree(out, ignore_errors=True)
        tmp.rename(out)
    return {"labels_added": added, "label_status": dict(statuses)}
