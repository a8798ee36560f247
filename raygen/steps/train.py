"""Step 00.train: the ensemble, trained on all data so far by Trainer actors."""

from __future__ import annotations

import json
import logging
from collections import Counter, deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import ray

from raygen.actors.pool import step_pools
from raygen.actors.trainer import Start
from raygen.cluster import wait_one
from raygen.config.backend import checkpoint_name, has_checkpoint
from raygen.config.schema import ModelDeviJob, init_model_policy
from raygen.errors import RunError, no_space
from raygen.report.progress import bar
from raygen.results import TrainResult
from raygen.science import pretrained
from raygen.science.dataset import count_frames, deepmd_systems
from raygen.science.training_input import make_training_input, pretrained_architecture
from raygen.state import overhead
from raygen.state.context import RunContext
from raygen.steps import label_sets, late_labels

# A member whose trainer was lost this many times stops the run (as explore's MD tasks).
MAX_WORKER_LOSSES = 3

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


def init_policy(ctx: RunContext) -> str:
    """``train.init_model_policy``, with DP-GEN's ``init_model_from_previous: true``
    read as ``yes``."""
    return init_model_policy(ctx.cfg.train)


def starts_from_previous(ctx: RunContext, ii: int) -> bool:
    """Iteration ``ii``'s members start from iteration ``ii - 1``'s (dpgen2's
    ``init_model_policy``: ``old_data_larger_than:N`` once the data the previous
    models trained on has more than N frames)."""
    policy = init_policy(ctx)
    if ii == 0 or policy == "no":
        return False
    if policy == "yes":
        return True
    return count_frames(training_systems(ctx, ii - 1)) > int(policy.split(":", 1)[1])


def member_start(ctx: RunContext, ii: int, member: int) -> Optional[Start]:
    """Where ``member``'s weights start in iteration ``ii`` (when it has no checkpoint
    of its own): the previous iteration's checkpoint (:func:`starts_from_previous`),
    else the pre-trained model when fine-tuning (``train.finetune``), else new."""
    if starts_from_previous(ctx, ii):
        prev = ctx.rundir.train_task(ii - 1, member)
        if has_checkpoint(prev, ctx.backend):
            return Start(init_model=str(prev / checkpoint_name(ctx.backend)))
    return finetune_start(ctx)


def finetune_start(ctx: RunContext) -> Optional[Start]:
    """Fine-tuning from ``train.finetune.model`` (None when not fine-tuning)."""
    ft = ctx.cfg.train.finetune
    return Start(finetune=str(ft.model), branch=ft.head or None) if ft.model else None


def pretrained_model(ctx: RunContext) -> Optional[dict]:
    """The model section every member trains when fine-tuning: the pre-trained
    branch's architecture (``RANDOM``: the first branch's descriptor; deepmd-kit then
    starts the fitting net anew); None when not fine-tuning."""
    ft = ctx.cfg.train.finetune
    if not ft.model:
        return None
    params = pretrained.model_params(ft.model)
    heads = pretrained.branches(params)
    head = heads[0] if heads and ft.head in (None, "RANDOM") else ft.head
    return pretrained_architecture(pretrained.branch_params(params, head))


def make_train(ctx: RunContext, ii: int, job: Optional[ModelDeviJob] = None) -> None:
    late_labels.collect(ctx, ii)
    systems = training_systems(ctx, ii)
    if label_sets.repair(ctx, systems):  # checked before deepmd-kit reads them
        systems = training_systems(ctx, ii)
    model = pretrained_model(ctx)
    for m in range(ctx.cfg.train.numb_models):
        ctx.rundir.train_task(ii, m).mkdir(parents=True, exist_ok=True)
        start = member_start(ctx, ii, m)
        inp = make_training_input(ctx.cfg.train, ctx.type_map, systems, ii, m,
                                  bool(start and start.init_model),
                                  finetune=bool(start and start.finetune), model=model)
        ctx.rundir.train_input(ii, m).write_text(json.dumps(inp, indent=2))
    log.info("iter %d train: %d models on %d systems, %d frames", ii,
             ctx.cfg.train.numb_models, len(systems), count_frames(systems))
    start = member_start(ctx, ii, 0)
    if start is not None and start.finetune:
        ft = ctx.cfg.train.finetune
        mapped = pretrained.type_mapping(list(model.get("type_map", [])), list(ctx.type_map))
        log.info("iter %d train: fine-tuned from %s%s: %s", ii, ft.model,
                 f" (branch {ft.head})" if ft.head else "", mapped.describe())


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
                                   member_start(ctx, ii, m),
                                   skips_neighbor_stat(ctx, m, inp, job)))
    train_members(ctx, todo, f"iter {ii}", compute=rd.compute(ii))


@dataclass(frozen=True)
class MemberTraining:
    """One member to train: where, with which input, where its frozen model goes."""

    member: int
    task_dir: Path
    input: dict
    graph: Path
    start: Optional[Start] = None
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
    idle, queue = workers.take(min(ctx.cfg.cluster.trainer.count, len(todo))), deque(todo)
    n_trainers = len(idle)
    running: dict[ray.ObjectRef, tuple[Any, MemberTraining]] = {}
    losses: Counter = Counter()
    seconds: dict[int, float] = {}
    try:
        with bar(len(todo), f"{what} train", ctx.progress) as pbar:
            while queue or running:
                while idle and queue:
                    worker, t = idle.pop(), queue.popleft()
                    running[worker.train.remote(
                        str(t.task_dir), t.input, str(t.graph), ctx.backend, t.start,
                        t.member, t.skip_neighbor_stat)] = (worker, t)
                ref = wait_one(list(running))
                worker, t = running.pop(ref)
                try:
                    result: TrainResult = ray.get(ref)
                except ray.exceptions.RayActorError as err:
                    # the worker was lost (its node, or Ray gave it up before it started):
                    # a new one trains the member again
                    losses[t.member] += 1
                    if losses[t.member] > MAX_WORKER_LOSSES:
                        raise RunError(f"{what}: model {t.member:03d}: its trainer was lost "
                                       f"{losses[t.member]} times: {err}") from err
                    log.warning("%s: the trainer of model %03d was lost (%s); training it "
                                "again on a new one", what, t.member, type(err).__name__)
                    idle.append(workers.replace(worker))
                    queue.appendleft(t)
                    continue
                except ray.exceptions.RayTaskError as err:
                    cause = err.cause if err.cause else err
                    full = no_space(todo[0].task_dir, str(cause))
                    raise RunError(f"{what}: training stopped: {full}" if full else
                                   f"{what}: training failed: {cause}") from err
                idle.append(worker)
                log.info("%s trained model %03d in %.1f s (%s)", what, result.member,
                         result.total_s, result.rmse_text())
                seconds[result.member] = result.compute_s or result.total_s
                pbar.update(1)
    finally:
        workers.close()
    if compute is not None:
        durations = [seconds[t.member] for t in todo]
        overhead.record(compute, "run_train", overhead.makespan(durations, n_trainers),
                        len(durations), sum(durations), n_trainers)


def post_train(ctx: RunContext, ii: int, job: Optional[ModelDeviJob] = None) -> None:
    missing = [m for m in range(ctx.cfg.train.numb_models)
               if not ctx.rundir.graph(ii, m, ctx.backend).exists()]
    if missing:
        raise RunError(f"iter {ii}: models {missing} were not produced; see "
                       f"{ctx.rundir.train(ii)}/<member>/train.log")
