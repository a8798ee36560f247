"""The one seam between a step and its workers: a step asks a pool for workers of a
kind, replaces a lost one, gives them back, and closes the pool when it is done.

Two implementations, so no step branches on which is in use:

- :class:`StepActors` — Ray actors of one kind started for the step, each asking for
  that kind's resources (``cluster.<kind>``); given back means stopped (their CPUs and
  GPUs go to the next kind at once);
- :class:`LaneWorkers` — the run's warm lanes (:mod:`raygen.actors.lane`): taken for
  the step and kept when given back; one lane that ran MD evaluates next, in the same
  process.

:func:`step_pools` gives a step the pools of its kinds. Calls that differ between the
two (an evaluation names the ensemble to a lane, which evaluates many) go through
the pool too (:meth:`WorkerPool.evaluate`).
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from typing import Any, Optional

import ray

from raygen.cluster import actor_options, fits_together, kill_all
from raygen.state.context import RunContext


class WorkerPool(abc.ABC):
    """Workers of one kind for one step."""

    # a worker holds its Ray resources for as long as it exists (step actors): giving
    # it back frees them for others
    holds_resources: bool = True

    @abc.abstractmethod
    def take(self, n: int) -> list:
        """Up to ``n`` workers (fewer where the pool has no more)."""

    @abc.abstractmethod
    def replace(self, lost) -> Any:
        """The successor of a worker that was lost (the lost one is cleaned up)."""

    @abc.abstractmethod
    def release(self, workers: list) -> None:
        """The step is done with ``workers``."""

    @abc.abstractmethod
    def close(self) -> None:
        """The step ends: every worker still out is given back."""

    def capacity(self, n: int) -> int:
        """How many workers ``take(n)`` would give."""
        return int(n)

    def hand_over(self, explorer) -> Optional[Any]:
        """An explorer with no MD left: the worker that evaluates in its place (the
        same warm process), or None when it was given back to free its resources."""
        self.release([explorer])
        return None

    def evaluate(self, worker, table_ref) -> ray.ObjectRef:
        return worker.evaluate.remote(table_ref)

    def evaluate_file(self, worker, traj_path: str) -> ray.ObjectRef:
        return worker.evaluate_file.remote(traj_path)


class StepActors(WorkerPool):
    """Actors started for the step by ``make()`` and stopped when given back."""

    def __init__(self, make: Callable[[], Any]) -> None:
        self.make = make
        self.out: list = []

    def take(self, n: int) -> list:
        workers = [self.make() for _ in range(max(0, int(n)))]
        self.out += workers
        return workers

    def replace(self, lost) -> Any:
        self.release([lost])
        return self.take(1)[0]

    def release(self, workers: list) -> None:
        kill_all(list(workers))
        self.out = [w for w in self.out if all(w is not x for x in workers)]

    def close(self) -> None:
        kill_all(self.out)
        self.out = []


class LaneWorkers(WorkerPool):
    """The run's lanes, lent to a step: every kind of worker at once (a lane trains,
    runs MD and evaluates), none started or stopped between steps. ``ensemble``: the
    models and batch size an evaluation uses (a lane keeps the ensemble loaded until
    it changes)."""

    holds_resources = False

    def __init__(self, lanes, ensemble: tuple = ()) -> None:
        self.lanes = lanes
        self.ensemble = tuple(ensemble)
        self.busy: list = []

    def _free(self, n: int) -> list:
        return [x for x in self.lanes.take(len(self.busy) + n)
                if all(x is not b for b in self.busy)][:n]

    def capacity(self, n: int) -> int:
        return len(self.lanes.take(n))

    def take(self, n: int) -> list:
        got = self._free(max(0, int(n)))
        self.busy += got
        return got

    def replace(self, lost) -> Any:
        new = self.lanes.replace(lost)
        self.busy = [new if b is lost else b for b in self.busy]
        if all(new is not b for b in self.busy):
            self.busy.append(new)
        return new

    def release(self, workers: list) -> None:
        self.busy = [b for b in self.busy if all(b is not w for w in workers)]

    def close(self) -> None:
        self.busy = []

    def hand_over(self, explorer) -> Optional[Any]:
        return explorer  # stays out: it evaluates from now on

    def evaluate(self, worker, table_ref) -> ray.ObjectRef:
        return worker.evaluate.remote(table_ref, *self.ensemble)

    def evaluate_file(self, worker, traj_path: str) -> ray.ObjectRef:
        return worker.evaluate_file.remote(traj_path, *self.ensemble)


def descriptor_level(select_cfg) -> Optional[str]:
    """The descriptor level evaluators compute frame vectors at (``select.pick=fps``), or
    None (deviations only)."""
    if str(getattr(select_cfg, "pick", "uniform")) != "fps":
        return None
    return str(getattr(select_cfg, "pick_descriptor", "structure"))


def step_pools(ctx: RunContext, kinds: tuple[str, ...],
               ensemble: Optional[list[str]] = None) -> list[WorkerPool]:
    """A pool for each of ``kinds`` (trainer, explorer, evaluator) for one step; on
    lanes one pool serves them all. ``ensemble``: the models evaluators load."""
    cfg = ctx.cfg
    batch = int(cfg.explore.deviation_batch)
    level = descriptor_level(cfg.select)
    if ctx.lanes is not None:
        shared = LaneWorkers(ctx.lanes, (list(ensemble or []), batch, level))
        return [shared for _ in kinds]
    from raygen.actors.evaluator import Evaluator
    from raygen.actors.explorer import Explorer
    from raygen.actors.trainer import Trainer

    makers = {
        "trainer": lambda: Trainer.options(**actor_options(cfg.cluster.trainer)).remote(
            ctx.threads),
        "explorer": lambda: Explorer.options(**actor_options(cfg.cluster.explorer)).remote(
            cfg.explore, ctx.type_map, ctx.threads, ctx.backend),
        "evaluator": lambda: Evaluator.options(**actor_options(cfg.cluster.evaluator)).remote(
            list(ensemble or []), batch, ctx.threads, level),
    }
    return [StepActors(makers[k]) for k in kinds]


def can_stream(explorers: WorkerPool, evaluators: WorkerPool, explorer_res, n_x: int,
               evaluator_res, n_e: int) -> bool:
    """MD and deviations at once: both kinds are workers of their own that fit on the
    cluster together (lanes run MD, then evaluate)."""
    return (explorers.holds_resources and evaluators.holds_resources
            and fits_together([(explorer_res, n_x), (evaluator_res, n_e)]))
