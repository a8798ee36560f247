"""Explorer actor: many MD tasks in one persistent process, by any exploration engine.

The actor starts its engine once (for LAMMPS: MPI, the backend's framework and the
DeePMD plugin), then runs every task it is given. A task's frames come back as an
Arrow table and are also written to the trajectory file the driver names, the
durable mark that the task's MD is done.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import ray

from raygen.actors.threads import set_threads
from raygen.atomic import atomic_write
from raygen.cluster import placement_info
from raygen.engines import make_engine
from raygen.results import MDResult


class ExplorerWorker:
    """Runs MD tasks one after another in this process; the :class:`Explorer` actor,
    or a :class:`~raygen.actors.lane.Lane`, hosts it."""

    def __init__(self, explore_cfg, type_map: list[str], threads: int = 1,
                 backend: str = "tf") -> None:
        set_threads(threads)
        self.engine = make_engine(explore_cfg, type_map)
        self.engine.start(str(backend))

    def placement(self) -> dict:
        return placement_info()

    def ready(self) -> bool:
        return True

    @ray.method(num_returns=2)
    def run(self, task_dir: str, task_id: str, sys_idx: int,
            traj_path: str) -> tuple[MDResult, pa.Table]:
        """Run the task whose inputs are in ``task_dir``; write its frames to
        ``traj_path``.

        Returns (result, frames) as two objects, so the frames can go from this
        node's object store to an evaluator without passing through the driver.
        An engine error (lost atoms, exploding box) keeps the frames before it.
        """
        traj = Path(traj_path)
        if traj.exists():
            table = pq.read_table(traj)
            return MDResult(task_id, table.num_rows, 0.0, None, True, os.getpid()), table
        start = time.perf_counter()
        table, error = self.engine.run(Path(task_dir), task_id, sys_idx)
        atomic_write(traj, lambda tmp: pq.write_table(table, tmp))
        return MDResult(task_id, table.num_rows, time.perf_counter() - start, error, False,
                        os.getpid()), table


@ray.remote
class Explorer(ExplorerWorker):
    """A Ray actor of its own for MD (see :class:`ExplorerWorker`)."""
