"""Step 02.fp: pick candidate frames, label them as Ray CPU tasks, collect the data.

Labels stream: each frame is its own task, results are taken as they finish, and
only converged outcomes become training data (``02.fp/data.%03d``, deepmd/npy).
"""

from __future__ import annotations

import json
import logging
import shutil
from collections import Counter
from typing import Optional

import numpy as np
import pyarrow.parquet as pq
import ray
from ase.io import read, write

from raygen.actors.labeling import read_outcome, submit_label
from raygen.atomic import atomic_write, atomic_write_json
from raygen.cluster import get, ray_options, wait_one
from raygen.config.schema import ModelDeviJob
from raygen.errors import RunError
from raygen.report.progress import bar
from raygen.science.dataset import write_labels_by_system
from raygen.science.frames import read_descriptors, row_to_atoms
from raygen.selection.early_stop import frames_not_run
from raygen.selection.sanity import checks, reason
from raygen.selection.select import apply_sanity, select_frames, write_selection_files
from raygen.state import overhead
from raygen.state.context import RunContext
from raygen.state.workdir import FRAME_FILE, OUTCOME_FILE
from raygen.steps import late_labels

log = logging.getLogger("raygen")


def set_aside_fp(ctx: RunContext, ii: int) -> None:
    """Before a (re)selection: an existing ``02.fp`` would no longer match it. Labels
    are never deleted: a folder holding outcomes is kept as ``02.fp.stale.N``."""
    fp = ctx.rundir.fp(ii)
    if not fp.exists():
        return
    if any(fp.glob(f"task.*/{OUTCOME_FILE}")):
        k = 0
        while fp.with_name(f"{fp.name}.stale.{k}").exists():
            k += 1
        fp.rename(fp.with_name(f"{fp.name}.stale.{k}"))
        log.warning("iter %d: the selection is made anew; the labels of the earlier one "
                    "are kept in %s", ii, fp.with_name(f"{fp.name}.stale.{k}"))
    else:
        shutil.rmtree(fp)


def _frame_reader(ctx: RunContext, ii: int):
    """``atoms_at(task_id, step)``: a frame of iteration ``ii``'s trajectories (step None:
    the task's first, where its MD started), each trajectory read once."""
    trajs: dict[str, tuple] = {}

    def atoms_at(task_id: str, step):
        if task_id not in trajs:
            table = pq.read_table(ctx.rundir.traj(ii, task_id))
            trajs[task_id] = (table, table.column("step").to_pylist(), {})
        table, steps, made = trajs[task_id]
        row = 0 if step is None else steps.index(step)
        if row not in made:
            made[row] = row_to_atoms(table, row, ctx.type_map)
        return made[row]

    return atoms_at


def task_vectors(ctx: RunContext, ii: int):
    """``vectors_of(frames)`` for :func:`select_frames`: the descriptor-space vectors the
    deviation reducer kept in each MD task's ``descriptors.npz`` (select.pick=fps)."""
    rd = ctx.rundir
    cache: dict[str, tuple] = {}

    def of_task(task_id: str) -> tuple:
        if task_id not in cache:
            path = rd.descriptors(ii, task_id)
            if not path.exists():
                raise RunError(
                    f"iter {ii}: select.pick=fps: {path} is missing (the deviations of "
                    f"{task_id} were computed without descriptors, under another "
                    "select.pick); redo the iteration's exploration (cut record.raygen "
                    "before its run_model_devi) or pick another way")
            steps, vectors = read_descriptors(path)
            order = np.argsort(steps, kind="stable")
            cache[task_id] = (steps[order], vectors[order])
        return cache[task_id]

    def vectors_of(frames) -> np.ndarray:
        out = None
        for code in np.unique(frames.codes):
            rows = np.flatnonzero(frames.codes == code)
            steps, vectors = of_task(str(frames.names[code]))
            at = np.minimum(np.searchsorted(steps, frames.steps[rows]), len(steps) - 1)
            if not np.array_equal(steps[at], frames.steps[rows]):
                raise RunError(f"iter {ii}: {rd.descriptors(ii, str(frames.names[code]))} "
                               "does not hold every step of that task's model_devi.out")
            if out is None:
                out = np.empty((len(frames), vectors.shape[1]), dtype=np.float32)
            out[rows] = vectors[at]
        return out if out is not None else np.empty((0, 0), dtype=np.float32)

    return vectors_of


def make_fp(ctx: RunContext, ii: int, job: ModelDeviJob) -> dict:
    """Select, write DP-GEN's candidate/rest files and one task dir per chosen frame
    (into a fresh ``02.fp``: labels of an earlier selection are kept aside)."""
    rd = ctx.rundir
    set_aside_fp(ctx, ii)
    not_run: dict[int, int] = {}
    for t in ctx.md_tasks(ii, job):  # tasks the ensemble gave up on (explore.early_stop)
        not_run[t.sys_idx] = not_run.get(t.sys_idx, 0) + frames_not_run(rd.md_task(ii, t.task_id))
    vectors_of = task_vectors(ctx, ii) if str(ctx.cfg.select.pick) == "fps" else None
    selection = select_frames(pq.read_table(rd.deviations(ii)), ctx.cfg.select, job, ii,
                              ctx.cfg.explore.model_devi_skip, not_run, vectors_of)
    atoms_at = _frame_reader(ctx, ii)
    tests = checks(ctx.cfg.select.sanity)
    if tests:  # the frames about to be labelled, checked (select.sanity)
        for s, sel in selection.items():
            apply_sanity(sel, lambda ref: reason(atoms_at(*ref), atoms_at(ref[0], None), tests))
            for (task_id, step), why in list(sel.filtered.items())[:3]:
                log.warning("iter %d system %d: %s step %d is not labelled: %s", ii, s,
                            task_id, step, why)
            if len(sel.filtered) > 3:
                log.warning("iter %d system %d: %d frames not labelled in all (select.sanity)",
                            ii, s, len(sel.filtered))
    write_selection_files(
        selection, lambda kind, s: rd.selection_file(ii, kind, s),
        lambda task_id: rd.md_task(ii, task_id).relative_to(rd.root))
    record: dict = {"systems": {}, "tasks": []}
    for s, sel in selection.items():
        record["systems"][str(s)] = {**sel.counts, "chosen": len(sel.chosen),
                                     "budget": sel.budget,
                                     "accurate_ratio": sel.accurate_ratio,
                                     "f_trust": [sel.levels.f_lo, sel.levels.f_hi]}
        if sel.not_run:  # frames of tasks that stopped early (explore.early_stop)
            record["systems"][str(s)]["not_run"] = sel.not_run
        if sel.filtered:  # frames not fit to label (select.sanity): counted as failed
            record["systems"][str(s)]["filtered"] = [
                {"md_task": t, "step": int(st), "why": why}
                for (t, st), why in sel.filtered.items()]
        if ctx.cfg.select.adapt_trust_lo:  # the levels found, as DP-GEN logs them
            record["systems"][str(s)].update(trust_adapted=True, v_trust=[
                sel.levels.v_lo, sel.levels.v_hi])
            log.info("iter %d system %d adapted: f_trust_lo %.4g v_trust_lo %.4g", ii, s,
                     sel.levels.f_lo, sel.levels.v_lo)
        for k, (task_id, step) in enumerate(sel.chosen):
            fdir = rd.fp_task(ii, s, k)
            record["tasks"].append({"fp_task": fdir.name, "md_task": task_id, "step": step,
                                    "sys_idx": s})
            if (fdir / FRAME_FILE).exists():
                continue
            atoms = atoms_at(task_id, step).copy()
            atoms.info.update({"md_task": task_id, "step": step, "iteration": ii})
            fdir.mkdir(parents=True, exist_ok=True)
            atomic_write(fdir / FRAME_FILE, lambda tmp, a=atoms: write(tmp, a, format="extxyz"))
    atomic_write_json(rd.selection(ii), record)
    atomic_write_json(rd.by_condition(ii), by_condition(selection, ctx.md_tasks(ii, job)))
    return record


def by_condition(selection: dict, tasks) -> list[dict]:
    """Accurate / candidate / failed frames per (system, temperature, pressure, template
    revision values): where in the schedule the ensemble is good and where not (the run
    report's table)."""
    import numpy as np

    cond = {t.task_id: (t.sys_idx, t.temp, t.press,
                        t.template.label() if t.template is not None else "") for t in tasks}
    counts: dict[tuple, dict[str, int]] = {}
    for sel in selection.values():
        for kind in ("accurate", "candidate", "failed"):
            frames = getattr(sel, kind)
            if not len(frames):
                continue
            per_task = np.bincount(frames.codes, minlength=len(frames.names))
            for name, n in zip(frames.names, per_task.tolist()):
                if n:
                    key = cond.get(str(name), (sel.sys_idx, None, None, ""))
                    row = counts.setdefault(key, {"accurate": 0, "candidate": 0, "failed": 0})
                    row[kind] += n
    return [{"sys_idx": s, "temp": t, "press": p, **({"revisions": r} if r else {}), **c}
            for (s, t, p, r), c in sorted(counts.items(), key=lambda kv: (
                kv[0][0], kv[0][1] or 0, kv[0][2] or 0, kv[0][3]))]


def _last_output(task_dir) -> str:
    """The last lines of a failed task's output (stderr first), on one line."""
    from raygen.labelers.kit import STDERR, STDOUT, tail

    for name in (STDERR, STDOUT):
        text = tail(task_dir / name, 3)
        if text.strip():
            return " / ".join(ln.strip() for ln in text.splitlines() if ln.strip())[:300]
    return ""


def _trust_check(model_paths: list[str], frames: list, type_map: list[str]) -> list[dict]:
    from raygen.actors.evaluator import load_models
    from raygen.science.trust_check import trust_check

    return trust_check(load_models(model_paths), frames, type_map)


trust_check_task = ray.remote(_trust_check)


def check_ensemble(ctx: RunContext, ii: int, labelled: list[tuple[dict, object]]) -> None:
    """Iteration ``ii``'s ensemble on the frames it sent to the labeler: each frame's max
    force deviation beside the true error (``02.fp/trust_check.json``; label.check_ensemble)."""
    rd = ctx.rundir
    models = [rd.graph(ii, m, ctx.backend) for m in range(ctx.cfg.train.numb_models)]
    if not ctx.cfg.label.check_ensemble or not labelled or not all(p.exists() for p in models):
        return
    # where an evaluator would run, but holding no CPU: a few seconds of inference that
    # must never queue behind late labels (label.proceed_ratio) holding every core
    opts = {**ray_options(ctx.cfg.cluster.evaluator), "num_cpus": 0}
    rows = get(trust_check_task.options(**opts).remote(
        [str(p) for p in models], [a for _, a in labelled], ctx.type_map))
    atomic_write_json(rd.trust_check(ii), [
        {"fp_task": t["fp_task"], "sys_idx": t["sys_idx"], **r}
        for (t, _), r in zip(labelled, rows)])


def fp_tasks(ctx: RunContext, ii: int) -> list[dict]:
    path = ctx.rundir.selection(ii)
    return json.loads(path.read_text())["tasks"] if path.exists() else []


def _log_outcome(ii: int, t: dict, outcome) -> None:
    for k, a in enumerate(outcome.attempts[:-1]):
        log.warning("iter %d %s: attempt %d %s (%s); tried again%s", ii, t["fp_task"],
                    k + 1, a["status"], a["message"][:200],
                    " with the fallback settings"
                    if outcome.attempts[k + 1]["fallback"] and not a["fallback"] else "")
    if not outcome.usable:
        log.warning("iter %d %s: %s %s", ii, t["fp_task"], outcome.status.value,
                    outcome.message)


def run_fp(ctx: RunContext, ii: int, job: Optional[ModelDeviJob] = None) -> None:
    """Label the iteration's frames, one Ray CPU task each. Returns when
    ``label.proceed_ratio`` of them are done; the others keep running
    (:func:`raygen.steps.late_labels.hand_over`) and their labels join a later
    training."""
    rd = ctx.rundir
    tasks = fp_tasks(ctx, ii)
    todo = [t for t in tasks
            if not (rd.fp_task_dir(ii, t["fp_task"]) / OUTCOME_FILE).exists()]
    if not todo:
        return
    need = late_labels.must_finish(ctx, len(tasks)) - (len(tasks) - len(todo))
    refs = {submit_label(ctx.cfg.label, ctx.cfg.cluster.labeler, ctx.threads,
                         rd.fp_task_dir(ii, t["fp_task"]),
                         read(rd.fp_task_dir(ii, t["fp_task"]) / FRAME_FILE)): t
            for t in todo}
    statuses: Counter = Counter()
    order = {ref: k for k, ref in enumerate(refs)}
    seconds: dict[int, float] = {}  # submission index -> the calculation's wall time
    with bar(len(todo), f"iter {ii} label", ctx.progress) as pbar:
        while refs and sum(statuses.values()) < need:
            ref = wait_one(list(refs))
            t = refs.pop(ref)
            outcome = ray.get(ref)
            seconds[order[ref]] = outcome.wall_time
            statuses[outcome.status.value] += 1
            _log_outcome(ii, t, outcome)
            pbar.update(1)
    durations = [seconds[k] for k in sorted(seconds)]
    lanes = max(1, ctx.cfg.cluster.labeler.count)
    overhead.record(rd.compute(ii), "run_fp", overhead.makespan(durations, lanes),
                    len(durations), sum(durations), lanes)
    late_labels.hand_over(ctx, ii, refs)
    log.info("iter %d label: %s%s", ii, dict(statuses),
             f"; {len(refs)} still running, their labels join a later training "
             f"(label.proceed_ratio={ctx.cfg.label.proceed_ratio:g})" if refs else "")


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
    proceeding = float(ctx.cfg.label.proceed_ratio) < 1
    late: list[dict] = []
    labelled: list[tuple[dict, object]] = []
    retried = 0
    for t in tasks:
        outcome = read_outcome(rd.fp_task_dir(ii, t["fp_task"]))
        if outcome is None and proceeding:
            late.append({"iteration": ii, "fp_task": t["fp_task"], "sys_idx": t["sys_idx"]})
            continue
        if outcome is None:
            statuses["missing"] += 1
            failures.append(f"{t['fp_task']}: no outcome")
            continue
        statuses[outcome.status.value] += 1
        retried += len(outcome.attempts) > 1  # counted by its final status too
        if outcome.usable:
            by_sys.setdefault(t["sys_idx"], []).append(outcome.atoms)
            labelled.append((t, outcome.atoms))
        else:
            out = _last_output(rd.fp_task_dir(ii, t["fp_task"]))
            failures.append(f"{t['fp_task']}: {outcome.status.value}: {outcome.message}"
                            + (f" | {out}" if out else ""))
    added = write_labels_by_system(by_sys, ctx.type_map, lambda s: rd.fp_data(ii, s))
    check_ensemble(ctx, ii, labelled)
    if late:
        statuses["late"] = len(late)
    collected = {"labels_added": added, "label_status": dict(statuses), "retried": retried,
                 "late": late}
    atomic_write_json(rd.collected(ii), collected)
    late_labels.ensure_running(ctx, late)  # after a restart they are not running
    limit = float(ctx.cfg.label.max_failed_ratio)
    done = len(tasks) - len(late)
    if done and ((not by_sys and not late) or len(failures) > limit * done):
        listing = "\n".join(f"  {f}" for f in failures[:20])
        more = f"\n  ... and {len(failures) - 20} more" if len(failures) > 20 else ""
        raise RunError(
            f"iter {ii}: {len(failures)} of {done} labels failed (more than "
            f"label.max_failed_ratio={limit:g}); the {added} that converged are kept in "
            f"{rd.fp(ii)}/data.*:\n{listing}{more}\nFix the labeler settings, remove the "
            f"failed tasks' {OUTCOME_FILE} to label them again, and run the same command.")
    return collected
