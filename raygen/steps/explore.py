"""Step 01.model_devi: MD with the new ensemble, streamed into the deviation reducer.

Explorer actors run the MD tasks (by the configured engine); each finished
trajectory (an Arrow table) goes to an Evaluator of the reducer, which returns the
compact deviation rows; the driver writes each task's ``model_devi.out`` (the
durable mark that the task is done).

Where the cluster has room for explorers and evaluators at once, the deviations
stream in while the MD goes on and the tables travel through the object store.
Where it has not (a laptop), the workers change hands: an explorer with no MD left
to run is stopped and an evaluator takes its place, reading the finished
trajectories from disk while the other explorers finish their last tasks. When an
explorer is lost and must start again, the evaluators are stopped first (their
tasks go back to the queue), so no evaluator holds the cores the explorer needs and
a lost worker never deadlocks the step. On the run's warm lanes
(:mod:`raygen.actors.lane`, a workstation) nothing is stopped or started: a lane
with no MD left evaluates the finished trajectories in the same process; a lost
lane is replaced by a new one.
"""

from __future__ import annotations

import logging
import time
from collections import Counter, deque
from typing import Optional

import pyarrow as pa
import pyarrow.parquet as pq
import ray
from ase.io import read

from raygen.actors.compress import md_model
from raygen.actors.evaluator import compute_s
from raygen.actors.pool import WorkerPool, can_stream, step_pools
from raygen.atomic import atomic_write, atomic_write_json, atomic_write_text
from raygen.cluster import get, wait_one
from raygen.config.schema import EarlyStopConfig, ModelDeviJob
from raygen.engines import make_engine
from raygen.errors import RunError
from raygen.report.progress import bar
from raygen.results import MDResult
from raygen.science.deviation import read_model_devi, write_model_devi
from raygen.science.frames import (
    DESCRIPTOR_COLUMN,
    DEVIATION_SCHEMA,
    deviation_array,
    deviation_rows,
    write_descriptors,
)
from raygen.selection.early_stop import StopRule, frames_not_run
from raygen.selection.trust import resolve_levels
from raygen.state import overhead
from raygen.state.context import RunContext
from raygen.state.schedule import MDTask

log = logging.getLogger("raygen")

# A task whose worker died this many times is given up (its error is recorded).
MAX_WORKER_LOSSES = 3


def stop_rule(ctx: RunContext, job: ModelDeviJob, task: MDTask,
              engine) -> Optional[StopRule]:
    """The early-stop rule of ``task`` (``explore.early_stop``; None when off): its
    system's upper force trust level in this job."""
    es = getattr(ctx.cfg.explore, "early_stop", None)
    if es is None or not EarlyStopConfig.is_on(es):
        return None
    if not engine.early_stop:
        raise RunError(f"explore.early_stop: the {ctx.cfg.explore.engine} engine does not "
                       "stop its MD early; leave explore.early_stop off")
    f_hi = resolve_levels(ctx.cfg.select, job, task.sys_idx).f_hi
    return StopRule(f_hi=f_hi, nsteps=task.nsteps, trj_freq=task.trj_freq,
                    failed_frames=es.failed_frames, failed_ratio=es.failed_ratio,
                    check_every=es.check_every, restarts=es.restarts, seed=task.seed)


def make_model_devi(ctx: RunContext, ii: int, job: ModelDeviJob) -> None:
    """One directory per MD task: the engine's inputs, then ``task.json`` (last)."""
    rd = ctx.rundir
    engine = make_engine(ctx.cfg.explore, ctx.type_map)
    if ctx.cfg.explore.grow.enabled and not rd.md_growth(ii).exists():
        growth = ctx.md_growth(ii)  # kept: what this iteration's MD lengths came from
        rd.model_devi(ii).mkdir(parents=True, exist_ok=True)
        atomic_write_json(rd.md_growth(ii), {str(s): g for s, g in growth.items()})
        for s, g in sorted(growth.items()):
            if g["factor"] > 1 and s in job.sys_idx:
                log.info("iter %d explore: system %d's MD %dx as long as the job's (%.1f %% "
                         "of its frames ill described in iteration %d)", ii, s, g["factor"],
                         100 * (g["ill_ratio"] or 0), ii - 1)
    tasks = ctx.md_tasks(ii, job)
    todo = [t for t in tasks if not rd.md_task_json(ii, t.task_id).exists()]
    # the first model drives the dynamics (compressed: explore.compress)
    models = [md_model(ctx, ii), *ctx.graphs(ii)[1:]] if todo else ctx.graphs(ii)
    for t in tasks:
        if rd.md_task_json(ii, t.task_id).exists():
            continue
        d = rd.md_task(ii, t.task_id)
        d.mkdir(parents=True, exist_ok=True)
        conf = ctx.confs[t.sys_idx][t.conf_idx]
        engine.write_task(d, read(conf), t, models, stop_rule(ctx, job, t, engine))
        atomic_write_json(rd.md_task_json(ii, t.task_id), {**t.to_dict(), "conf": str(conf)})
    if job.template.lmp:
        log.info("iter %d explore: %d MD tasks from the LAMMPS template %s (%d revision "
                 "sets; every %d steps)", ii, len(tasks), job.template.lmp,
                 len({t.template for t in tasks}), job.trj_freq)
    else:
        log.info("iter %d explore: %d MD tasks (%s, T=%s K, P=%s bar, %d steps, every %d)",
                 ii, len(tasks), job.ensemble, list(job.temps), list(job.press), job.nsteps,
                 job.trj_freq)


class _Reducer:
    """Evaluators fed one task at a time; a dead one is replaced, its task redone."""

    def __init__(self, ctx: RunContext, ii: int, pool: WorkerPool) -> None:
        self.ctx, self.ii, self.pool = ctx, ii, pool
        self.idle: list = []
        self.running: dict[ray.ObjectRef, tuple] = {}
        self.queue: deque = deque()
        self.losses: Counter = Counter()
        self.compute_s: dict[str, float] = {}  # task id -> seconds of its evaluation

    @property
    def size(self) -> int:
        return len(self.idle) + len(self.running)

    def start(self, n: Optional[int] = None) -> None:
        """Take ``n`` more evaluators (default: up to ``cluster.evaluator.count``)."""
        room = self.ctx.cfg.cluster.evaluator.count - self.size
        self.idle += self.pool.take(room if n is None else min(n, room))

    def give(self, worker) -> None:
        """A worker whose MD is done evaluates from now on."""
        self.idle.append(worker)

    def stop(self) -> None:
        """Give every evaluator back; tasks being evaluated go back to the queue (to be
        read from disk)."""
        for _ev, task in self.running.values():
            self.queue.appendleft((task, None))
        self.close()

    def add(self, task: MDTask, table_ref: Optional[ray.ObjectRef]) -> None:
        self.queue.append((task, table_ref))

    def dispatch(self) -> None:
        while self.idle and self.queue:
            task, table_ref = self.queue.popleft()
            ev = self.idle.pop()
            if table_ref is not None:
                ref = self.pool.evaluate(ev, table_ref)
            else:
                ref = self.pool.evaluate_file(ev, str(self.ctx.rundir.traj(self.ii,
                                                                           task.task_id)))
            self.running[ref] = (ev, task)

    def done(self, ref) -> Optional[pa.Table]:
        """The deviation table of a finished evaluation, or None after a lost worker
        or object (the task is queued again, from its trajectory file)."""
        ev, task = self.running.pop(ref)
        try:
            table = ray.get(ref)
        except (ray.exceptions.RayActorError, ray.exceptions.ObjectLostError) as err:
            self.losses[task.task_id] += 1
            if self.losses[task.task_id] >= MAX_WORKER_LOSSES:
                raise RunError(f"iter {self.ii}: the deviation of {task.task_id} failed "
                               f"{MAX_WORKER_LOSSES} times: {err}") from err
            log.warning("iter %d: evaluator lost during %s (%s); starting a new one, "
                        "redoing the task from its trajectory", self.ii, task.task_id,
                        type(err).__name__)
            self.idle.append(self.pool.replace(ev))
            self.queue.appendleft((task, None))
            return None
        self.idle.append(ev)
        self.compute_s[task.task_id] = compute_s(table)
        return table

    def close(self) -> None:
        self.pool.release(self.idle + [ev for ev, _ in self.running.values()])
        self.idle, self.running = [], {}


def run_model_devi(ctx: RunContext, ii: int, job: ModelDeviJob) -> dict:
    """MD and deviation of every task without a model_devi.out; returns counts."""
    cfg, rd = ctx.cfg, ctx.rundir
    todo = [t for t in ctx.md_tasks(ii, job) if not rd.model_devi_out(ii, t.task_id).exists()]
    stats = {"tasks": len(todo), "md_errors": 0, "frames": 0, "worker_losses": 0,
             "stopped_early": 0, "frames_not_run": 0}
    if not todo:
        return stats
    t_start = time.perf_counter()
    res_x, res_e = cfg.cluster.explorer, cfg.cluster.evaluator
    xpool, epool = step_pools(ctx, ("explorer", "evaluator"), [str(p) for p in ctx.graphs(ii)])
    explorers = xpool.take(min(res_x.count, len(todo)))
    n_x, n_e = len(explorers), epool.capacity(res_e.count)
    streaming = can_stream(xpool, epool, res_x, n_x, res_e, n_e)
    get([e.ready.remote() for e in explorers])
    reducer = _Reducer(ctx, ii, epool)
    if streaming:
        reducer.start()
    queue = deque(todo)
    md_seconds: dict[str, float] = {}  # task id -> seconds of its MD run
    running: dict[ray.ObjectRef, tuple] = {}
    losses: Counter = Counter()

    def submit(explorer) -> None:
        t = queue.popleft()
        info_ref, table_ref = explorer.run.remote(str(rd.md_task(ii, t.task_id)), t.task_id,
                                                  t.sys_idx, str(rd.traj(ii, t.task_id)))
        running[info_ref] = (explorer, t, table_ref)

    def waiting() -> str:
        return (f"iter {ii} explore: {len(running)} MD tasks running, {len(queue)} queued, "
                f"{len(reducer.running)} deviations running, {len(reducer.queue)} queued")

    try:
        for e in explorers:
            if queue:
                submit(e)
        with bar(len(todo), f"iter {ii} MD", ctx.progress) as md_bar, \
                bar(len(todo), f"iter {ii} deviation", ctx.progress) as dev_bar:
            while running or reducer.running or reducer.queue:
                if not running and "md_s" not in stats:
                    # MD done: every explorer's CPUs/GPUs go to the evaluators
                    xpool.release(explorers)
                    explorers = []
                    stats["md_s"] = time.perf_counter() - t_start
                if not running:
                    reducer.start()
                reducer.dispatch()
                ref = wait_one(list(running) + list(reducer.running), waiting,
                               cfg.cluster.stall_warn_s)
                if ref in reducer.running:
                    devi = reducer.done(ref)
                    if devi is not None:
                        _write_task_devi(ctx, ii, devi)
                        dev_bar.update(1)
                    continue
                explorer, t, table_ref = running.pop(ref)
                try:
                    result: MDResult = ray.get(ref)
                except ray.exceptions.RayActorError as err:
                    stats["worker_losses"] += 1
                    losses[t.task_id] += 1
                    explorers = [e for e in explorers if e is not explorer]
                    if losses[t.task_id] >= MAX_WORKER_LOSSES:
                        raise RunError(f"iter {ii}: MD task {t.task_id} lost its worker "
                                       f"{MAX_WORKER_LOSSES} times: {err}") from err
                    log.warning("iter %d: explorer lost during %s; starting a new one, "
                                "the task runs again", ii, t.task_id)
                    if xpool.holds_resources and not streaming and reducer.size:
                        reducer.stop()  # its cores may be the ones the explorer needs
                    queue.appendleft(t)
                    explorer = xpool.replace(explorer)
                    explorers.append(explorer)
                    submit(explorer)
                    continue
                if result.error:
                    stats["md_errors"] += 1
                    atomic_write_text(rd.md_error(ii, t.task_id), result.error + "\n")
                    log.warning("iter %d: MD task %s stopped with an error after %d frames: %s",
                                ii, t.task_id, result.frames, result.error.splitlines()[0])
                stats["frames"] += result.frames
                not_run = frames_not_run(rd.md_task(ii, t.task_id))
                if not_run:  # the ensemble gave up (explore.early_stop)
                    stats["stopped_early"] += 1
                    stats["frames_not_run"] += not_run
                md_seconds[t.task_id] = result.wall_s
                reducer.add(t, table_ref if streaming else None)
                md_bar.update(1)
                if queue:
                    submit(explorer)
                else:  # nothing left for this explorer: its place goes to an evaluator
                    explorers = [e for e in explorers if e is not explorer]
                    successor = xpool.hand_over(explorer)
                    if successor is not None:  # the same warm process evaluates from now on
                        reducer.give(successor)
                    elif not streaming and running:
                        reducer.start(1)
            stats.setdefault("md_s", time.perf_counter() - t_start)
    finally:
        xpool.close()
        reducer.close()
        epool.close()
    stats["deviation_tail_s"] = time.perf_counter() - t_start - stats["md_s"]
    ids = [t.task_id for t in todo if t.task_id in md_seconds]
    md_d, dev_d = [md_seconds[i] for i in ids], [reducer.compute_s.get(i, 0.0) for i in ids]
    stats["md_compute_s"], stats["deviation_compute_s"] = sum(md_d), sum(dev_d)
    overhead.record(rd.compute(ii), "run_model_devi",
                    overhead.pipeline_makespan(md_d, n_x, dev_d, n_e, streaming),
                    len(ids), sum(md_d) + sum(dev_d), n_x + n_e)
    log.info("iter %d explore: %d tasks, %d frames, %d MD errors; MD done after %.1f s, "
             "last deviations %.1f s later", ii, stats["tasks"], stats["frames"],
             stats["md_errors"], stats["md_s"], stats["deviation_tail_s"])
    if stats["stopped_early"]:
        log.info("iter %d explore: %d tasks stopped early (the ensemble gave up): %d frames "
                 "not run, counted as failed", ii, stats["stopped_early"],
                 stats["frames_not_run"])
    atomic_write_json(rd.md_stats(ii), stats)
    return stats


def _write_task_devi(ctx: RunContext, ii: int, devi: pa.Table) -> None:
    if devi.num_rows == 0:
        return
    task_id = devi.column("task_id")[0].as_py()
    if DESCRIPTOR_COLUMN in devi.column_names:  # before model_devi.out, the task's mark
        write_descriptors(ctx.rundir.descriptors(ii, task_id), devi)
    write_model_devi(ctx.rundir.model_devi_out(ii, task_id), devi.column("step").to_numpy(),
                     deviation_array(devi))


def post_model_devi(ctx: RunContext, ii: int, job: ModelDeviJob) -> pa.Table:
    """All tasks' deviations in one table (``01.model_devi/model_devi.parquet``).

    An iteration in which every MD task failed is an error that quotes the reason
    (a model that cannot be read, an unstable setting): nothing could be learned
    from it, and going on would only end in a run with nothing done.
    """
    rd = ctx.rundir
    tasks = ctx.md_tasks(ii, job)
    errors = {t.task_id: rd.md_error(ii, t.task_id).read_text().strip()
              for t in tasks if rd.md_error(ii, t.task_id).exists()}
    if tasks and len(errors) == len(tasks):
        first = tasks[0].task_id
        raise RunError(f"iter {ii}: all {len(tasks)} MD tasks failed; {first}: "
                       f"{errors[first].splitlines()[0] if errors[first] else '?'} "
                       f"(see {rd.md_task(ii, first)})")
    parts = []
    for t in tasks:
        path = rd.model_devi_out(ii, t.task_id)
        if not path.exists():
            log.warning("iter %d: %s has no %s (no frames)", ii, t.task_id, path.name)
            continue
        steps, devi = read_model_devi(path)
        parts.append(deviation_rows(t.task_id, t.sys_idx, steps, devi))
    table = pa.concat_tables(parts) if parts else DEVIATION_SCHEMA.empty_table()
    atomic_write(rd.deviations(ii), lambda tmp: pq.write_table(table, tmp))
    return table
