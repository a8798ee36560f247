"""Lanes: warm workers that train, run MD and reduce deviations for a whole run.

Where the three kinds of worker ask for the same resources and cannot all run at
once (a workstation: one core each, as many of each as there are cores), each step
used to start its own workers and stop them at its end — per cu-quick iteration on
2 cores two Trainers (deepmd-kit's import, ~6 s), two Explorers (LAMMPS and its
DeePMD plugin, ~3 s) and two Evaluators (TensorFlow, ~5 s), every start on the
critical path. A lane is one such slot kept for the whole run: one process that
starts deepmd-kit's warm server (:mod:`raygen.actors.dp_server`), LAMMPS and
TensorFlow once, the first time it needs each, and then takes whatever the step at
hand gives it — a member to train, the MD model to compress, an MD task, a
trajectory's deviations (with the iteration's models, loaded on first use and kept
until the ensemble changes).

A lane asks Ray for no CPUs: raygen itself runs at most ``count`` tasks of a step
on the lanes at once, each with ``threads_per_worker`` threads — what the per-kind
workers asked Ray for — and the steps run one after another. That holds only
where raygen owns the Ray instance and nothing else runs beside the steps: see
:func:`use_lanes` for when lanes are used.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import pyarrow as pa
import ray

from raygen.actors.evaluator import EvaluatorWorker
from raygen.actors.explorer import ExplorerWorker
from raygen.actors.threads import set_threads
from raygen.actors.trainer import Start, TrainerWorker
from raygen.cluster import kill_all, placement_info
from raygen.config.schema import LANE_ROLES, lane_problems, plain_resources
from raygen.errors import RunError
from raygen.results import MDResult, TrainResult

ROLES = LANE_ROLES


def _same_shape(resources: list) -> bool:
    first = resources[0]
    return all(float(r.num_cpus) == float(first.num_cpus) for r in resources)


def lane_count(cluster, cpus: Optional[float] = None) -> int:
    """How many lanes: the most any of the three kinds runs at once, and no more
    than the local Ray's CPUs hold (what Ray would have admitted)."""
    roles = [getattr(cluster, r) for r in ROLES]
    want = max(int(r.count) for r in roles)
    per = float(roles[0].num_cpus)
    if cpus is None:
        cpus = float(ray.cluster_resources().get("CPU", 1)) if ray.is_initialized() else 1.0
    return max(1, min(want, int(cpus // per) if per > 0 else want))


def use_lanes(cfg) -> bool:
    """Whether a run uses lanes (``cluster.lanes``; null: where they are safe).

    Safe: a local Ray instance (``cluster.address`` null) that raygen starts and
    owns; trainer, explorer and evaluator asking for the same CPUs and no GPUs, custom
    resources or node labels; and no labelling running beside the next training
    (``label.proceed_ratio`` 1). ``cluster.lanes=true`` where that does not hold is
    an error (lanes hold no Ray resources: they could not pin a GPU)."""
    cluster = cfg.cluster
    roles = [getattr(cluster, r) for r in ROLES]
    plain = all(plain_resources(r) for r in roles)
    safe = (not cluster.address and plain and _same_shape(roles)
            and float(cfg.label.proceed_ratio) >= 1.0)
    if cluster.lanes is None:
        return safe
    problems = lane_problems(cluster)
    if problems:
        raise RunError(problems[0])
    return bool(cluster.lanes)


@ray.remote
class Lane:
    """One warm worker: trains (:class:`TrainerWorker`), runs MD
    (:class:`ExplorerWorker`) and evaluates deviations (:class:`EvaluatorWorker`),
    each started on first use and kept."""

    def __init__(self, explore_cfg, type_map: list[str], threads: int = 1,
                 backend: str = "tf") -> None:
        set_threads(threads)
        self.explore_cfg, self.type_map = explore_cfg, list(type_map)
        self.threads, self.backend = int(threads), str(backend)
        self.trainer = TrainerWorker(threads)
        self.explorer: Optional[ExplorerWorker] = None
        self.ensemble: Optional[EvaluatorWorker] = None
        self.ensemble_key: tuple = ()

    def ready(self) -> bool:
        return True

    def placement(self) -> dict:
        return placement_info()

    def train(self, task_dir: str, input_dict: dict, graph_path: str, backend: str,
              start: Optional[Start] = None, member: int = 0,
              skip_neighbor_stat: bool = False) -> TrainResult:
        return self.trainer.train(task_dir, input_dict, graph_path, backend, start,
                                  member, skip_neighbor_stat)

    def compress(self, src: str, dst: str, backend: str) -> tuple[Optional[str], float]:
        """``dp compress`` of the MD model, in this lane's warm deepmd-kit."""
        return self.trainer.compress(src, dst, backend)

    @ray.method(num_returns=2)
    def run(self, task_dir: str, task_id: str, sys_idx: int,
            traj_path: str) -> tuple[MDResult, pa.Table]:
        if self.explorer is None:
            self.explorer = ExplorerWorker(self.explore_cfg, self.type_map, self.threads,
                                           self.backend)
        return self.explorer.run(task_dir, task_id, sys_idx, traj_path)

    def _models(self, model_paths: list[str], batch: int,
                descriptors: Optional[str] = None) -> EvaluatorWorker:
        key = (tuple(str(p) for p in model_paths), int(batch),
               tuple(Path(p).stat().st_mtime_ns for p in model_paths))
        if self.ensemble is None or key != self.ensemble_key:
            self.ensemble = None  # the previous ensemble's sessions go first
            self.ensemble = EvaluatorWorker(list(key[0]), int(batch), self.threads)
            self.ensemble_key = key
        self.ensemble.descriptors = descriptors
        return self.ensemble

    def evaluate(self, frames: pa.Table, model_paths: list[str], batch: int,
                 descriptors: Optional[str] = None) -> pa.Table:
        return self._models(model_paths, batch, descriptors).evaluate(frames)

    def evaluate_file(self, traj_path: str, model_paths: list[str], batch: int,
                      descriptors: Optional[str] = None) -> pa.Table:
        return self._models(model_paths, batch, descriptors).evaluate_file(traj_path)


class LanePool:
    """The run's lanes, started when a step first asks for them and kept to the end."""

    def __init__(self, cfg, type_map: list[str], backend: str) -> None:
        self.cfg, self.type_map, self.backend = cfg, list(type_map), str(backend)
        self.lanes: list = []

    def new(self):
        return Lane.options(num_cpus=0, max_restarts=1, max_task_retries=1).remote(
            self.cfg.explore, self.type_map, int(self.cfg.cluster.threads_per_worker),
            self.backend)

    def take(self, n: int) -> list:
        """``n`` lanes (at most :func:`lane_count`), started if not yet there."""
        n = max(1, min(int(n), lane_count(self.cfg.cluster)))
        while len(self.lanes) < n:
            self.lanes.append(self.new())
        return self.lanes[:n]

    def replace(self, lane):
        """A lost lane's successor (the lost one is killed, its place taken)."""
        kill_all([lane])
        new = self.new()
        self.lanes = [new if x is lane else x for x in self.lanes]
        if new not in self.lanes:
            self.lanes.append(new)
        return new

    def close(self) -> None:
        kill_all(self.lanes)
        self.lanes = []
