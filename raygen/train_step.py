"""Step 00.train: the ensemble, trained on all data so far by Trainer actors."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Optional

import ray

from raygen import late_labels
from raygen.actors.trainer import Trainer
from raygen.backend import checkpoint_name, has_checkpoint
from raygen.cluster import actor_options, kill_all, next_result
from raygen.config import ModelDeviJob
from raygen.context import RunContext
from raygen.dataset import count_frames, deepmd_systems
from raygen.errors import RunError
from raygen.report.progress import bar
from raygen.results import TrainResult
from raygen.training_input import make_training_input

log = logging.getLogger("raygen")


def training_systems(ctx: RunContext, ii: int) -> list[Path]:
    """Initial data plus every label of iterations before ``ii``, and the late
    labels (``label.proceed_ratio``) taken into trainings up to ``ii``."""
    systems = list(ctx.init_systems)
    for i in range(ii):
        for data in ctx.rundir.fp_data_all(i):
            systems += deepmd_systems(data)
    for i in range(ii + 1):
        for data in ctx.rundir.late_data_all(i):
            systems += deepmd_systems(data)
    return systems


def init_model(ctx: RunContext, ii: int, member: int) -> Optional[Path]:
    """The previous iteration's checkpoint of ``member`` (training_init_model)."""
    if not ctx.cfg.train.init_model_from_previous or ii == 0:
        return None
    prev = ctx.rundir.train_task(ii - 1, member)
    return prev / checkpoint_name(ctx.backend) if has_checkpoint(prev, ctx.backend) else None


def make_train(ctx: RunContext, ii: int, job: Optional[ModelDeviJob] = None) -> None:
    late_labels.collect(ctx, ii)
    systems = training_systems(ctx, ii)
    for m in range(ctx.cfg.train.numb_models):
        ctx.rundir.train_task(ii, m).mkdir(parents=True, exist_ok=True)
        inp = make_training_input(ctx.cfg.train, ctx.type_map, systems, ii, m,
                                  init_model(ctx, ii, m) is not None)
        ctx.rundir.train_input(ii, m).write_text(json.dumps(inp, indent=2))
    log.info("iter %d train: %d models on %d systems, %d frames", ii,
             ctx.cfg.train.numb_models, len(systems), count_frames(systems))


def run_train(ctx: RunContext, ii: int, job: Optional[ModelDeviJob] = None) -> None:
    rd = ctx.rundir
    todo = [m for m in range(ctx.cfg.train.numb_models)
            if not rd.graph(ii, m, ctx.backend).exists()]
    if not todo:
        return
    res = ctx.cfg.cluster.trainer
    trainers = [Trainer.options(**actor_options(res)).remote(ctx.threads)
                for _ in range(min(res.count, len(todo)))]
    pool = ray.util.ActorPool(trainers)
    try:
        for m in todo:
            inp = json.loads(rd.train_input(ii, m).read_text())
            prev = init_model(ctx, ii, m)
            pool.submit(lambda a, args: a.train.remote(*args),
                        (str(rd.train_task(ii, m)), inp, str(rd.graph(ii, m, ctx.backend)),
                         ctx.backend, str(prev) if prev else None, m))
        with bar(len(todo), f"iter {ii} train", ctx.progress) as pbar:
            while pool.has_next():
                try:
                    result: TrainResult = next_result(pool)
                except ray.exceptions.RayTaskError as err:
                    raise RunError(f"iter {ii}: training failed: "
                                   f"{err.cause if err.cause else err}") from err
                log.info("iter %d trained model %03d in %.1f s (%s)", ii, result.member,
                         result.total_s, result.rmse_text())
                pbar.update(1)
    finally:
        kill_all(trainers)


def post_train(ctx: RunContext, ii: int, job: Optional[ModelDeviJob] = None) -> None:
    missing = [m for m in range(ctx.cfg.train.numb_models)
               if not ctx.rundir.graph(ii, m, ctx.backend).exists()]
    if missing:
        raise RunError(f"iter {ii}: models {missing} were not produced; see "
                       f"{ctx.rundir.train(ii)}/<member>/train.log")
