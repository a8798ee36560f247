"""Step 00.train: the ensemble, trained on all data so far by Trainer actors."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Optional

import ray

from raygen.actors.trainer import CHECKPOINT, Trainer
from raygen.cluster import actor_options, kill_all, next_result
from raygen.context import RunContext
from raygen.dataset import count_frames, deepmd_systems
from raygen.report.progress import bar
from raygen.training_input import make_training_input

log = logging.getLogger("raygen")


def training_systems(ctx: RunContext, ii: int) -> list[Path]:
    """Initial data plus every label of iterations before ``ii``."""
    systems = list(ctx.init_systems)
    for i in range(ii):
        for data in sorted(ctx.rundir.fp(i).glob("data.[0-9][0-9][0-9]")):
            systems += deepmd_systems(data)
    return systems


def init_model(ctx: RunContext, ii: int, member: int) -> Optional[Path]:
    """The previous iteration's checkpoint of ``member`` (training_init_model)."""
    if not ctx.cfg.train.init_model_from_previous or ii == 0:
        return None
    prev = ctx.rundir.train_task(ii - 1, member)
    ckpt = prev / CHECKPOINT[ctx.cfg.train.backend]
    has = (prev / "checkpoint").exists() if ctx.cfg.train.backend == "tf" else ckpt.exists()
    return ckpt if has else None


def make_train(ctx: RunContext, ii: int) -> None:
    systems = training_systems(ctx, ii)
    for m in range(ctx.cfg.train.numb_models):
        tdir = ctx.rundir.train_task(ii, m)
        tdir.mkdir(parents=True, exist_ok=True)
        inp = make_training_input(ctx.cfg.train, list(ctx.cfg.type_map), systems, ii, m,
                                  init_model(ctx, ii, m) is not None)
        (tdir / "input.json").write_text(json.dumps(inp, indent=2))
    log.info("iter %d train: %d models on %d systems, %d frames", ii,
             ctx.cfg.train.numb_models, len(systems), count_frames(systems))


def run_train(ctx: RunContext, ii: int) -> None:
    backend = ctx.cfg.train.backend
    todo = [m for m in range(ctx.cfg.train.numb_models)
            if not ctx.rundir.graph(ii, m, backend).exists()]
    if not todo:
        return
    res = ctx.cfg.cluster.trainer
    trainers = [Trainer.options(**actor_options(res)).remote(ctx.threads)
                for _ in range(min(res.count, len(todo)))]
    pool = ray.util.ActorPool(trainers)
    try:
        for m in todo:
            tdir = ctx.rundir.train_task(ii, m)
            inp = json.loads((tdir / "input.json").read_text())
            prev = init_model(ctx, ii, m)
            pool.submit(lambda a, args: a.train.remote(*args),
                        (str(tdir), inp, str(ctx.rundir.graph(ii, m, backend)), backend,
                         str(prev) if prev else None))
        with bar(len(todo), f"iter {ii} train", ctx.progress) as pbar:
            while pool.has_next():
                info = next_result(pool)
                rmse = " ".join(f"{k}={v:.3g}" for k, v in info["lcurve"].items()
                                if k in ("rmse_e_trn", "rmse_f_trn", "rmse_v_trn"))
                log.info("iter %d trained model %s in %.1f s (%s)", ii, info["member"],
                         info["total_s"], rmse)
                pbar.update(1)
    finally:
        kill_all(trainers)


def post_train(ctx: RunContext, ii: int) -> None:
    backend = ctx.cfg.train.backend
    missing = [m for m in range(ctx.cfg.train.numb_models)
               if not ctx.rundir.graph(ii, m, backend).exists()]
    if missing:
        raise RuntimeError(f"iter {ii}: models {missing} were not produced")


def model_paths(ctx: RunContext, ii: int) -> list[str]:
    return [str(ctx.rundir.graph(ii, m, ctx.cfg.train.backend).resolve())
            for m in range(ctx.cfg.train.numb_models)]
