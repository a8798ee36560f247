"""Step 01.model_devi: MD with the new ensemble, streamed into the deviation reducer.

Explorer actors run the MD tasks; each finished trajectory (an Arrow table) goes
straight from the explorer's object store to an Evaluator of the reducer pool,
which returns the compact deviation rows; the driver writes each task's
``model_devi.out`` (the durable mark that the task is done).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import ray
from ase.io import read

from raygen.actors.evaluator import Evaluator
from raygen.actors.explorer import INPUT_FILE, Explorer
from raygen.atomic import atomic_write, atomic_write_json, atomic_write_text
from raygen.cluster import actor_options, get, kill_all, next_result, wait_one
from raygen.context import RunContext
from raygen.deviation import MODEL_DEVI_COLUMNS, read_model_devi, write_model_devi
from raygen.frames import DEVIATION_SCHEMA
from raygen.lammps_input import CONF_FILE, lammps_input, write_conf
from raygen.report.progress import bar
from raygen.schedule import MDTask, expand_job
from raygen.train_step import model_paths

log = logging.getLogger("raygen")

MODEL_DEVI_FILE = "model_devi.out"
TASK_FILE = "task.json"
DEVIATIONS_FILE = "model_devi.parquet"


def md_tasks(ctx: RunContext, ii: int, job) -> list[MDTask]:
    n_confs = [len(ctx.confs[i]) for i in range(len(ctx.cfg.systems))]
    return expand_job(job, n_confs, ii, seed=ctx.cfg.select.seed)


def task_dir(ctx: RunContext, ii: int, task: MDTask) -> Path:
    return ctx.rundir.model_devi(ii) / task.task_id


def make_model_devi(ctx: RunContext, ii: int, job) -> None:
    """One directory per MD task: conf.lmp, in.lammps, task.json."""
    cfg = ctx.cfg
    model = model_paths(ctx, ii)[0]
    tasks = md_tasks(ctx, ii, job)
    for t in tasks:
        d = task_dir(ctx, ii, t)
        if (d / TASK_FILE).exists():
            continue
        d.mkdir(parents=True, exist_ok=True)
        write_conf(read(ctx.confs[t.sys_idx][t.conf_idx]), d / CONF_FILE, list(cfg.type_map))
        text = lammps_input(model=model, type_map=list(cfg.type_map), temp=t.temp,
                            press=t.press if t.press is not None else 1.0,
                            ensemble=t.ensemble, nsteps=t.nsteps, trj_freq=t.trj_freq,
                            dt=cfg.explore.dt, tau_t=cfg.explore.tau_t,
                            tau_p=cfg.explore.tau_p, seed=t.seed,
                            neigh_skin=cfg.explore.neigh_skin)
        atomic_write_text(d / INPUT_FILE, text)
        atomic_write_json(d / TASK_FILE, {**t.to_dict(), "conf": str(ctx.confs[t.sys_idx][t.conf_idx])})
    log.info("iter %d explore: %d MD tasks (%s, T=%s K, P=%s bar, %d steps, every %d)", ii,
             len(tasks), job.ensemble, list(job.temps), list(job.press), job.nsteps,
             job.trj_freq)


def run_model_devi(ctx: RunContext, ii: int, job) -> dict:
    """MD and deviation of every task without a model_devi.out; returns counts."""
    cfg = ctx.cfg
    todo = [t for t in md_tasks(ctx, ii, job)
            if not (task_dir(ctx, ii, t) / MODEL_DEVI_FILE).exists()]
    stats = {"tasks": len(todo), "md_errors": 0, "frames": 0}
    if not todo:
        return stats
    models = model_paths(ctx, ii)
    t_start = time.perf_counter()
    res_x, res_e = cfg.cluster.explorer, cfg.cluster.evaluator
    explorers = [Explorer.options(**actor_options(res_x)).remote(
        list(cfg.type_map), ctx.threads, cfg.train.backend)
        for _ in range(min(res_x.count, len(todo)))]
    # Explorers first: on a small machine the evaluators wait for their CPUs and
    # start when the MD is done; on a cluster both run at once (streaming).
    get([e.ready.remote() for e in explorers])
    evaluators = [Evaluator.options(**actor_options(res_e)).remote(
        models, cfg.explore.deviation_batch, ctx.threads) for _ in range(res_e.count)]
    reducer = ray.util.ActorPool(evaluators)
    queue = list(todo)
    running: dict[ray.ObjectRef, tuple] = {}

    def submit(explorer) -> None:
        t = queue.pop(0)
        info_ref, table_ref = explorer.run.remote(str(task_dir(ctx, ii, t)), t.task_id, t.sys_idx)
        running[info_ref] = (explorer, t, table_ref)

    try:
        for e in explorers:
            if queue:
                submit(e)
        with bar(len(todo), f"iter {ii} MD", ctx.progress) as md_bar, \
                bar(len(todo), f"iter {ii} deviation", ctx.progress) as dev_bar:
            while running:
                ref = wait_one(list(running))
                explorer, t, table_ref = running.pop(ref)
                info = ray.get(ref)
                if info["error"]:
                    stats["md_errors"] += 1
                    atomic_write_text(task_dir(ctx, ii, t) / "md_error.txt", info["error"] + "\n")
                stats["frames"] += info["frames"]
                reducer.submit(lambda a, ref: a.evaluate.remote(ref), table_ref)
                md_bar.update(1)
                if queue:
                    submit(explorer)
                while reducer.has_next():
                    try:
                        devi = reducer.get_next_unordered(timeout=0)
                    except TimeoutError:
                        break
                    _write_task_devi(ctx, ii, devi)
                    dev_bar.update(1)
            kill_all(explorers)  # frees their CPUs/GPUs for the evaluators
            explorers = []
            stats["md_s"] = time.perf_counter() - t_start
            while reducer.has_next():
                _write_task_devi(ctx, ii, next_result(reducer))
                dev_bar.update(1)
    finally:
        kill_all(explorers)
        kill_all(evaluators)
    stats["deviation_tail_s"] = time.perf_counter() - t_start - stats["md_s"]
    log.info("iter %d explore: %d tasks, %d frames, %d MD errors; MD done after %.1f s, "
             "last deviations %.1f s later", ii, stats["tasks"], stats["frames"],
             stats["md_errors"], stats["md_s"], stats["deviation_tail_s"])
    atomic_write_json(ctx.rundir.model_devi(ii) / "stats.json", stats)
    return stats


def _write_task_devi(ctx: RunContext, ii: int, devi: pa.Table) -> None:
    if devi.num_rows == 0:
        return
    task_id = devi.column("task_id")[0].as_py()
    cols = [devi.column(c).to_numpy() for c in MODEL_DEVI_COLUMNS]
    write_model_devi(ctx.rundir.model_devi(ii) / task_id / MODEL_DEVI_FILE,
                     devi.column("step").to_numpy(), np.column_stack(cols))


def post_model_devi(ctx: RunContext, ii: int, job) -> pa.Table:
    """All tasks' deviations in one table (``01.model_devi/model_devi.parquet``)."""
    parts = []
    for t in md_tasks(ctx, ii, job):
        path = task_dir(ctx, ii, t) / MODEL_DEVI_FILE
        if not path.exists():
            log.warning("iter %d: %s has no %s (no frames)", ii, t.task_id, MODEL_DEVI_FILE)
            continue
        steps, devi = read_model_devi(path)
        cols = {"task_id": pa.array([t.task_id] * len(steps)),
                "sys_idx": pa.array([t.sys_idx] * len(steps), pa.int32()),
                "step": pa.array(steps)}
        cols.update({c: pa.array(devi[:, k]) for k, c in enumerate(MODEL_DEVI_COLUMNS)})
        parts.append(pa.table(cols, schema=DEVIATION_SCHEMA))
    table = pa.concat_tables(parts) if parts else DEVIATION_SCHEMA.empty_table()
    atomic_write(ctx.rundir.model_devi(ii) / DEVIATIONS_FILE,
                 lambda tmp: pq.write_table(table, tmp))
    return table


def read_deviations(ctx: RunContext, ii: int) -> pa.Table:
    return pq.read_table(ctx.rundir.model_devi(ii) / DEVIATIONS_FILE)
