"""What every step of a run needs: the config, the run directory, prepared inputs."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

from raygen.atomic import atomic_write_json
from raygen.config.schema import ModelDeviJob, RaygenConfig
from raygen.selection.growth import grown_nsteps, next_factors
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
        """The MD tasks ``job`` expands to in iteration ``ii`` (each system's MD as long
        as ``explore.grow`` has made it by then)."""
        n_confs = [len(self.confs[i]) for i in range(len(self.cfg.systems))]
        nsteps = None
        grow = getattr(self.cfg.explore, "grow", None)
        if grow is not None and grow.enabled and not job.template.lmp:
            nsteps = {s: grown_nsteps(job.nsteps, f, grow.max_nsteps, job.trj_freq)
                      for s, f in self.md_factors(ii).items()}
        return expand_job(job, n_confs, ii, seed=self.cfg.select.seed, nsteps=nsteps)

    def md_factors(self, ii: int) -> dict[int, int]:
        """Each system's ``explore.grow`` factor in iteration ``ii``: from the factors and
        the selection of iteration ``ii - 1`` (ArcaNN's rule), as kept in
        ``01.model_devi/growth.json`` once the iteration's MD was set up (1 for a system
        not grown yet)."""
        return {s: g["factor"] for s, g in self.md_growth(ii).items()}

    def md_growth(self, ii: int) -> dict[int, dict]:
        """``{sys_idx: {"factor", "ill_ratio"}}`` of iteration ``ii`` (see md_factors)."""
        path = self.rundir.md_growth(ii)
        if path.exists():
            return {int(s): g for s, g in json.loads(path.read_text()).items()}
        if ii == 0 or not self.rundir.selection(ii - 1).exists():
            return {}
        grow = self.cfg.explore.grow
        systems = json.loads(self.rundir.selection(ii - 1).read_text())["systems"]
        return next_factors(self.md_factors(ii - 1), systems, grow.x4_below, grow.x2_below,
                            grow.max_nsteps)

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
