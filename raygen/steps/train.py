"""Step 00.train: the ensemble, trained on all data so far by Trainer actors."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import ray

from raygen.actors.pool import step_pools
from raygen.cluster import next_result
from raygen.config.backend import checkpoint_name, has_checkpoint
from raygen.config.schema import ModelDeviJob
from raygen.errors import RunError, no_space
from raygen.report.progress import bar
from raygen.results import TrainResult
from raygen.science.dataset import count_frames, deepmd_systems
from raygen.science.training_input import make_training_input
from raygen.state import overhead
from raygen.state.context import RunContext
from raygen.steps import label_sets, late_labels

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
    if label_sets.repair(ctx, systems):  # checked before deepmd-kit reads them
        systems = training_systems(ctx, ii)
    for m in range(ctx.cfg.train.numb_models):
        ctx.rundir.train_task(ii, m).mkdir(parents=True, exist_ok=True)
        inp = make_training_input(ctx.cfg.train, ctx.type_map, systems, ii, m,
                                  init_model(ctx, ii, m) is not None)
        ctx.rundir.train_input(ii, m).write_text(json.dumps(inp, indent=2))
    log.info("iter %d train: %d models on %d systems, %d frames", ii,
             ctx.cfg.train.numb_models, len(systems), count_frames(systems))


def explicit_sel(input_dict: dict) -> bool:
    """Every descriptor of a deepmd-kit input names its ``sel`` (no ``"auto"``,
    which needs the neighbour statistics to be chosen)."""
    desc = input_dict.get("model", {}).get("descriptor", {})
    parts = desc.get("list", []) if desc.get("type") == "hybrid" else [desc]
    return bool(parts) and all(isinstance(d.get("sel"), list) for d in parts)


def skips_neighbor_stat(ctx: RunContext, member: int, input_dict: dict,
                        job: Optional[ModelDeviJob]) -> bool:
    """``train.neighbor_stat=first``: in an iteration that explores (``job`` given),
    members after the first train without deepmd-kit's neighbour statistics — the
    first member (the MD model, the one ``dp compress`` may need them for) checks
    ``sel`` on the same data; the final ensemble (no job) computes them all."""
    return (str(ctx.cfg.train.neighbor_stat) == "first" and job is not None
            and member > 0 and explicit_sel(input_dict))


def run_train(ctx: RunContext, ii: int, job: Optional[ModelDeviJob] = None) -> None:
    rd = ctx.rundir
    todo = []
    for m in range(ctx.cfg.train.numb_models):
        if rd.graph(ii, m, ctx.backend).exists():
            continue
        inp = json.loads(rd.train_input(ii, m).read_text())
        todo.append(MemberTraining(m, rd.train_task(ii, m), inp, rd.graph(ii, m, ctx.backend),
                                   init_model(ctx, ii, m),
                                   skips_neighbor_stat(ctx, m, inp, job)))
    train_members(ctx, todo, f"iter {ii}", compute=rd.compute(ii))


@dataclass(frozen=True)
class MemberTraining:
    """One member to train: where, with which input, where its frozen model goes."""

    member: int
    task_dir: Path
    input: dict
    graph: Path
    init_model: Optional[Path] = None
    skip_neighbor_stat: bool = False


def train_members(ctx: RunContext, todo: list[MemberTraining], what: str,
                  compute: Optional[Path] = None) -> None:
    """Train ``todo`` on the step's trainers (:func:`raygen.actors.pool.step_pools`:
    Trainer actors of ``cluster.trainer``, or the run's lanes); a failure
    stops the run naming the member's log. ``compute``: where the step's
    critical-path compute goes (:mod:`raygen.state.overhead`)."""
    if not todo:
        return
    (workers,) = step_pools(ctx, ("trainer",))
    trainers = workers.take(min(ctx.cfg.cluster.trainer.count, len(todo)))
    pool = ray.util.ActorPool(trainers)
    seconds: dict[int, float] = {}
    try:
        for t in todo:
            pool.submit(lambda a, args: a.train.remote(*args),
                        (str(t.task_dir), t.input, str(t.graph), ctx.backend,
                         str(t.init_model) if t.init_model else None, t.member,
                         t.skip_neighbor_stat))
        with bar(len(todo), f"{what} train", ctx.progress) as pbar:
            while pool.has_next():
                try:
                    result: TrainResult = next_result(pool)
                except ray.exceptions.RayTaskError as err:
                    cause = err.cause if err.cause else err
                    full = no_space(todo[0].task_dir, str(cause))
                    raise RunError(f"{what}: training stopped: {full}" if full else
                                   f"{what}: training failed: {cause}") from err
                log.info("%s trained model %03d in %.1f s (%s)", what, result.member,
                         result.total_s, result.rmse_text())
                seconds[result.member] = result.compute_s or result.total_s
                pbar.update(1)
    finally:
        workers.close()
    if compute is not None:
        durations = [seconds[t.member] for t in todo]
        overhead.record(compute, "run_train", overhead.makespan(durations, len(trainers)),
                        len(durations), sum(durations), len(trainers))


def post_train(ctx: RunContext, ii: int, job: Optional[ModelDeviJob] = None) -> None:
    missing = [m for m in range(ctx.cfg.train.numb_models)
               if not ctx.rundir.graph(ii, m, ctx.backend).exists()]
    if missing:
        raise RunError(f"iter {ii}: models {missing} were not produced; see "
                       f"{ctx.rundir.train(ii)}/<member>/train.log")
