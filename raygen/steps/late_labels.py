"""Labels that arrive after their iteration moved on (``label.proceed_ratio`` < 1).

When ``proceed_ratio`` of an iteration's labelling tasks are done, ``run_fp``
returns and the next iteration's training starts; the other tasks keep running.
``post_fp`` lists them as ``late`` in ``02.fp/collected.json`` (they are not
failures). Each later training step (:func:`collect`, from ``make_train``) takes
the late tasks that have finished since into ``00.train/data.late.*`` and names
them in ``00.train/late_labels.json``, so the record tells exactly which label
joined which training. Before the final training every late task is waited for
(:func:`settle`): nothing is dropped.

A task's own ``outcome.json`` is its durable mark: after a kill -9, late tasks
without one are submitted again (:func:`ensure_running`), and finished ones are
never redone.

This module owns late labels: how many of an iteration's tasks must finish before
it moves on (:func:`must_finish`), the live references of the running ones (handed
over by ``run_fp``, :func:`hand_over`; kept in ``RunContext.late_running``, which
nothing else reads or writes), their collection into training data and the wait
for them before the final training.
"""

from __future__ import annotations

import json
import logging
from collections import Counter

import ray
from ase.io import read

from raygen.actors.labeling import read_outcome, submit_label
from raygen.atomic import atomic_write_json
from raygen.cluster import wait_one
from raygen.science.dataset import write_labels_by_system
from raygen.selection.budget import proceed_count
from raygen.state.context import RunContext
from raygen.state.workdir import FRAME_FILE, OUTCOME_FILE

log = logging.getLogger("raygen")


def must_finish(ctx: RunContext, n_tasks: int) -> int:
    """How many of an iteration's ``n_tasks`` labels must be done before the next
    iteration's training starts (``label.proceed_ratio``)."""
    return proceed_count(n_tasks, float(ctx.cfg.label.proceed_ratio))


def hand_over(ctx: RunContext, ii: int, running: dict) -> None:
    """``run_fp`` of iteration ``ii`` moves on: its still-running tasks
    (``ObjectRef -> task``) become late labels."""
    for ref, t in running.items():
        ctx.late_running[(ii, t["fp_task"])] = ref


def running(ctx: RunContext) -> list[tuple[int, str]]:
    """(iteration, fp_task) of the late tasks running in this process."""
    return list(ctx.late_running)


def _key(entry: dict) -> tuple[int, str]:
    return int(entry["iteration"]), str(entry["fp_task"])


def _read(path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def pending(ctx: RunContext, upto: int) -> list[dict]:
    """Late tasks of iterations before ``upto`` not yet taken into a training of an
    iteration up to ``upto``."""
    rd = ctx.rundir
    taken = {_key(e) for j in range(upto + 1)
             for e in _read(rd.late_labels(j)).get("collected", [])}
    return [e for k in range(upto) for e in _read(rd.collected(k)).get("late", [])
            if _key(e) not in taken]


def _task_dir(ctx: RunContext, entry: dict):
    return ctx.rundir.fp_task_dir(int(entry["iteration"]), entry["fp_task"])


def ensure_running(ctx: RunContext, entries: list[dict]) -> int:
    """Submit each late task that has no outcome and is not running in this process
    (after a restart: all of them). Returns how many were submitted."""
    n = 0
    for e in entries:
        d = _task_dir(ctx, e)
        if _key(e) in ctx.late_running or (d / OUTCOME_FILE).exists():
            continue
        ctx.late_running[_key(e)] = submit_label(ctx.cfg.label, ctx.cfg.cluster.labeler,
                                              ctx.threads, d, read(d / FRAME_FILE))
        n += 1
    if n:
        log.info("%d late labelling tasks of earlier iterations submitted again", n)
    return n


def settle(ctx: RunContext, upto: int) -> None:
    """Wait until every late task of the iterations before ``upto`` has an outcome."""
    for _round in range(2):  # a task lost beyond its retries runs once more
        entries = [e for e in pending(ctx, upto)
                   if not (_task_dir(ctx, e) / OUTCOME_FILE).exists()]
        if not entries:
            return
        ensure_running(ctx, entries)
        refs = [ctx.late_running[_key(e)] for e in entries]
        log.info("waiting for %d late labels before the final training", len(refs))
        while refs:
            ref = wait_one(refs)
            refs.remove(ref)
            try:
                ray.get(ref)
            except Exception as err:  # noqa: BLE001 - the task is submitted again
                log.warning("a late labelling task failed: %s", err)
        for e in entries:
            ctx.late_running.pop(_key(e), None)


def collected(ctx: RunContext, ii: int) -> list[dict]:
    """The late tasks whose labels joined iteration ``ii``'s data (``iteration``,
    ``fp_task``, ``sys_idx``, ``status``)."""
    path = ctx.rundir.late_labels(ii)
    return list(_read(path).get("collected", [])) if path.exists() else []


def collect(ctx: RunContext, ii: int) -> int:
    """Finished late tasks into ``00.train/data.late.*`` of iteration ``ii`` (once:
    an existing ``late_labels.json`` means it is done). Returns the labels added."""
    rd = ctx.rundir
    if rd.late_labels(ii).exists():
        return int(_read(rd.late_labels(ii)).get("labels_added", 0))
    finished = []
    for e in pending(ctx, ii):
        outcome = read_outcome(_task_dir(ctx, e))
        if outcome is not None:
            finished.append((e, outcome))
    if not finished:
        return 0
    by_sys: dict[int, list] = {}
    statuses: Counter = Counter()
    for e, outcome in finished:
        statuses[outcome.status.value] += 1
        if outcome.usable:
            by_sys.setdefault(int(e["sys_idx"]), []).append(outcome.atoms)
        else:
            log.warning("late label iter %d %s: %s %s", e["iteration"], e["fp_task"],
                        outcome.status.value, outcome.message)
        ctx.late_running.pop(_key(e), None)
    added = write_labels_by_system(by_sys, ctx.type_map, lambda s: rd.late_data(ii, s))
    atomic_write_json(rd.late_labels(ii), {
        "labels_added": added, "label_status": dict(statuses),
        "collected": [{**e, "status": o.status.value} for e, o in finished]})
    log.info("iter %d train: %d late labels of earlier iterations join the data (%s)",
             ii, added, dict(statuses))
    return added
