"""Step 02.fp: pick candidate frames, label them as Ray CPU tasks, collect the data.

Labels stream: each frame is its own task, results are taken as they finish, and
only converged outcomes become training data (``02.fp/data.%03d``, deepmd/npy).
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from typing import Optional

import pyarrow.parquet as pq
from ase.io import read, write

from raygen.actors.labeling import label_tasks, read_outcome
from raygen.atomic import atomic_write, atomic_write_json, replace_dir
from raygen.config import ModelDeviJob
from raygen.context import RunContext
from raygen.dataset import write_deepmd_npy
from raygen.errors import RunError
from raygen.frames import row_to_atoms
from raygen.report.progress import bar
from raygen.selection.select import select_frames, write_selection_files
from raygen.verify import set_aside_fp
from raygen.workdir import FRAME_FILE, OUTCOME_FILE

log = logging.getLogger("raygen")


def make_fp(ctx: RunContext, ii: int, job: ModelDeviJob) -> dict:
    """Select, write DP-GEN's candidate/rest files and one task dir per chosen frame
    (into a fresh ``02.fp``: labels of an earlier selection are kept aside)."""
    rd = ctx.rundir
    set_aside_fp(ctx, ii)
    selection = select_frames(pq.read_table(rd.deviations(ii)), ctx.cfg.select, job, ii,
                              ctx.cfg.explore.model_devi_skip)
    write_selection_files(
        selection, lambda kind, s: rd.selection_file(ii, kind, s),
        lambda task_id: rd.md_task(ii, task_id).relative_to(rd.root))
    record: dict = {"systems": {}, "tasks": []}
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
                trajs[task_id] = pq.read_table(rd.traj(ii, task_id))
            table = trajs[task_id]
            row = table.column("step").to_pylist().index(step)
            atoms = row_to_atoms(table, row, ctx.type_map)
            atoms.info.update({"md_task": task_id, "step": step, "iteration": ii})
            fdir.mkdir(parents=True, exist_ok=True)
            atomic_write(fdir / FRAME_FILE, lambda tmp, a=atoms: write(tmp, a, format="extxyz"))
    atomic_write_json(rd.selection(ii), record)
    return record


def _last_output(task_dir) -> str:
    """The last lines of a failed task's output (stderr first), on one line."""
    from raygen.labelers.external import STDERR, STDOUT, tail

    for name in (STDERR, STDOUT):
        text = tail(task_dir / name, 3)
        if text.strip():
            return " / ".join(ln.strip() for ln in text.splitlines() if ln.strip())[:300]
    return ""


def fp_tasks(ctx: RunContext, ii: int) -> list[dict]:
    path = ctx.rundir.selection(ii)
    return json.loads(path.read_text())["tasks"] if path.exists() else []


def run_fp(ctx: RunContext, ii: int, job: Optional[ModelDeviJob] = None) -> None:
    rd = ctx.rundir
    tasks = [t for t in fp_tasks(ctx, ii)
             if not (rd.fp_task_dir(ii, t["fp_task"]) / OUTCOME_FILE).exists()]
    if not tasks:
        return
    statuses: Counter = Counter()
    with bar(len(tasks), f"iter {ii} label", ctx.progress) as pbar:
        for t, outcome in label_tasks(
                ctx.cfg.label, ctx.cfg.cluster.labeler, ctx.threads, tasks,
                lambda t: rd.fp_task_dir(ii, t["fp_task"]),
                lambda t: read(rd.fp_task_dir(ii, t["fp_task"]) / FRAME_FILE)):
            statuses[outcome.status.value] += 1
            for k, a in enumerate(outcome.attempts[:-1]):
                log.warning("iter %d %s: attempt %d %s (%s); tried again%s", ii, t["fp_task"],
                            k + 1, a["status"], a["message"][:200],
                            " with the fallback settings"
                            if outcome.attempts[k + 1]["fallback"] and not a["fallback"] else "")
            if not outcome.usable:
                log.warning("iter %d %s: %s %s", ii, t["fp_task"], outcome.status.value,
                            outcome.message)
            pbar.update(1)
    log.info("iter %d label: %s", ii, dict(statuses))


def post_fp(ctx: RunContext, ii: int, job: Optional[ModelDeviJob] = None) -> dict:
    """Converged labels of each system into ``02.fp/data.%03d``; counts by status in
    ``02.fp/collected.json``. When more than ``label.max_failed_ratio`` of the
    frames (or all of them) failed, the labels that converged are kept and the run
    stops with a list of the failed tasks, their outcome and the end of their
    output."""
    rd = ctx.rundir
    by_sys: dict[int, list] = {}
    statuses: Counter = Counter()
    failures: list[str] = []
    tasks = fp_tasks(ctx, ii)
    for t in tasks:
        outcome = read_outcome(rd.fp_task_dir(ii, t["fp_task"]))
        if outcome is None:
            statuses["missing"] += 1
            failures.append(f"{t['fp_task']}: no outcome")
            continue
        statuses[outcome.status.value] += 1
        if outcome.usable:
            by_sys.setdefault(t["sys_idx"], []).append(outcome.atoms)
        else:
            out = _last_output(rd.fp_task_dir(ii, t["fp_task"]))
            failures.append(f"{t['fp_task']}: {outcome.status.value}: {outcome.message}"
                            + (f" | {out}" if out else ""))
    added = 0
    for s, frames in sorted(by_sys.items()):
        def write(tmp, frames=frames):
            nonlocal added
            added += write_deepmd_npy(frames, ctx.type_map, tmp)
        replace_dir(rd.fp_data(ii, s), write)
    collected = {"labels_added": added, "label_status": dict(statuses)}
    atomic_write_json(rd.collected(ii), collected)
    limit = float(ctx.cfg.label.max_failed_ratio)
    if tasks and (not by_sys or len(failures) > limit * len(tasks)):
        listing = "\n".join(f"  {f}" for f in failures[:20])
        more = f"\n  ... and {len(failures) - 20} more" if len(failures) > 20 else ""
        raise RunError(
            f"iter {ii}: {len(failures)} of {len(tasks)} labels failed (more than "
            f"label.max_failed_ratio={limit:g}); the {added} that converged are kept in "
            f"{rd.fp(ii)}/data.*:\n{listing}{more}\nFix the labeler settings, remove the "
            f"failed tasks' {OUTCOME_FILE} to label them again, and run the same command.")
    return collected
