"""Deviation reducer: ensemble evaluators over Arrow tables of frames.

Each :class:`Evaluator` loads the N models of the iteration once, then turns any
number of frame tables into compact deviation tables (task id, step, max/min/avg
force deviation, virial and energy deviation). A pool of them (``ray.util.ActorPool``)
is the distributed reducer; only the deviation rows travel back to the driver.
"""

from __future__ import annotations

import time
from typing import Optional

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import ray

from raygen.actors.threads import set_threads
from raygen.cluster import placement_info
from raygen.science.descriptors import frame_descriptors
from raygen.science.deviation import ensemble_deviation
from raygen.science.ensemble import predict
from raygen.science.frames import (
    DESCRIPTOR_COLUMN,
    DEVIATION_SCHEMA,
    deviation_rows,
    label_arrays,
    table_arrays,
)


def deviation_table(models, frames: pa.Table, batch: int, against_labels: bool = False,
                    descriptors: Optional[str] = None) -> pa.Table:
    """Deviation rows of every frame in ``frames`` (any mix of tasks); with
    ``against_labels``, the ensemble's error against the frames' own labels instead
    (:func:`raygen.science.frames.with_labels`). With ``descriptors`` (a level of
    :mod:`raygen.science.descriptors`), each row also carries its frame's vector in the
    first model's descriptor space (column ``descriptor``), from the same pass."""
    if frames.num_rows == 0:
        return DEVIATION_SCHEMA.empty_table()
    parts = []
    task_ids = frames.column("task_id").to_numpy(zero_copy_only=False)
    for task_id in dict.fromkeys(task_ids):
        idx = np.flatnonzero(task_ids == task_id)
        sub = frames.take(pa.array(idx))
        cells, positions, types = table_arrays(sub)
        real = label_arrays(sub) if against_labels else None
        energies, forces, virials = predict(models, cells, positions, types, batch)
        devi = ensemble_deviation(energies, forces, virials, real)
        rows = deviation_rows(str(task_id), sub.column("sys_idx")[0].as_py(),
                              sub.column("step").to_numpy(), devi)
        if descriptors:
            vec = frame_descriptors(models[0], cells, positions, types, batch, descriptors,
                                    forces)
            rows = rows.append_column(DESCRIPTOR_COLUMN, pa.FixedSizeListArray.from_arrays(
                pa.array(vec.reshape(-1), pa.float32()), vec.shape[1]))
        parts.append(rows)
    return pa.concat_tables(parts)


def load_models(paths: list[str]):
    from deepmd.infer import DeepPot

    return [DeepPot(p) for p in paths]


class EvaluatorWorker:
    """Holds the ensemble's N models; reduces frame tables to deviation tables. The
    :class:`Evaluator` actor, or a :class:`~raygen.actors.lane.Lane`, hosts it."""

    def __init__(self, model_paths: list[str], batch: int = 200, threads: int = 1,
                 descriptors: Optional[str] = None) -> None:
        set_threads(threads)
        self.models = load_models(model_paths)
        self.batch = batch
        self.descriptors = descriptors  # a descriptor level: frame vectors too (select.pick=fps)

    def placement(self) -> dict:
        return placement_info()

    def evaluate(self, frames: pa.Table, against_labels: bool = False) -> pa.Table:
        start = time.perf_counter()
        return with_compute_s(deviation_table(self.models, frames, self.batch,
                                              against_labels,
                                              None if against_labels else self.descriptors),
                              start)

    def evaluate_file(self, traj_path: str) -> pa.Table:
        """The same, for a trajectory stored as Parquet (read here, not sent)."""
        start = time.perf_counter()
        return with_compute_s(deviation_table(self.models, pq.read_table(traj_path),
                                              self.batch, descriptors=self.descriptors), start)


@ray.remote
class Evaluator(EvaluatorWorker):
    """A Ray actor of its own for deviations (see :class:`EvaluatorWorker`)."""


COMPUTE_KEY = b"raygen.compute_s"


def with_compute_s(table: pa.Table, start: float) -> pa.Table:
    """The table, its schema metadata carrying the seconds since ``start`` (the
    evaluation's compute, for :mod:`raygen.state.overhead`)."""
    meta = dict(table.schema.metadata or {})
    meta[COMPUTE_KEY] = repr(time.perf_counter() - start).encode()
    return table.replace_schema_metadata(meta)


def compute_s(table: pa.Table) -> float:
    meta = table.schema.metadata or {}
    return float(meta.get(COMPUTE_KEY, b"0"))
