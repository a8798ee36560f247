"""What every step of a run needs: the config, the run directory, prepared inputs."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

from raygen.atomic import atomic_write_json
from raygen.config.schema import ModelDeviJob, RaygenConfig
from raygen.state.schedule import MDTask, expand_job
from raygen.state.workdir import RunDir

if TYPE_CHECKING:  # the run's lanes: an annotation, no dependency on the actors
    from raygen.actors.lane import LanePool


@dataclass
class RunContext:
    cfg: RaygenConfig
    rundir: RunDir
    confs: dict[int, list[Path]] = field(default_factory=dict)
    init_systems: list[Path] = field(default_factory=list)
    # labelling tasks still running after their iteration moved on
    # (label.proceed_ratio < 1): (iteration, fp_task) -> ObjectRef; owned by
    # raygen.steps.late_labels, which alone reads and writes it
    late_running: dict[tuple[int, str], Any] = field(default_factory=dict)
    # warm workers kept for the whole run, or None (steps reach them only through
    # raygen.actors.pool.step_pools)
    lanes: Optional[LanePool] = None

    @property
    def progress(self) -> bool:
        return bool(self.cfg.progress)

    @property
    def threads(self) -> int:
        return int(self.cfg.cluster.threads_per_worker)

    @property
    def type_map(self) -> list[str]:
        return list(self.cfg.type_map)

    @property
    def backend(self) -> str:
        return str(self.cfg.train.backend)

    def graphs(self, ii: int) -> list[Path]:
        """The ensemble trained in iteration ``ii`` (absolute paths)."""
        return [self.rundir.graph(ii, m, self.backend).resolve()
                for m in range(self.cfg.train.numb_models)]

    def md_tasks(self, ii: int, job: ModelDeviJob) -> list[MDTask]:
        """The MD tasks ``job`` expands to in iteration ``ii``."""
        n_confs = [len(self.confs[i]) for i in range(len(self.cfg.systems))]
        return expand_job(job, n_confs, ii, seed=self.cfg.select.seed)

    def record_time(self, ii: int, step: str, seconds: float) -> None:
        """Add ``seconds`` to the wall time of ``step`` in ``iter.*/timings.json``
        (added, so a resumed step counts its time before and after the restart)."""
        path = self.rundir.timings(ii)
        times = json.loads(path.read_text()) if path.exists() else {}
        times[step] = times.get(step, 0.0) + seconds
        atomic_write_json(path, times)

    def timings(self, ii: int) -> dict[str, float]:
        path = self.rundir.timings(ii)
        return json.loads(path.read_text()) if path.exists() else {}
