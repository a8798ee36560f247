"""What every stage of a run needs: the config, the run directory, prepared inputs."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from raygen.atomic import atomic_write_json
from raygen.workdir import RunDir


@dataclass
class RunContext:
    cfg: object
    rundir: RunDir
    confs: dict[int, list[Path]] = field(default_factory=dict)
    init_systems: list[Path] = field(default_factory=list)

    @property
    def progress(self) -> bool:
        return bool(self.cfg.progress)

    @property
    def threads(self) -> int:
        return int(self.cfg.cluster.threads_per_worker)

    def record_time(self, ii: int, step: str, seconds: float) -> None:
        """Add ``seconds`` to the wall time of ``step`` in ``iter.*/timings.json``
        (added, so a resumed stage counts its time before and after the restart)."""
        path = self.rundir.iter(ii) / "timings.json"
        times = json.loads(path.read_text()) if path.exists() else {}
        times[step] = times.get(step, 0.0) + seconds
        atomic_write_json(path, times)

    def timings(self, ii: int) -> dict[str, float]:
        path = self.rundir.iter(ii) / "timings.json"
        return json.loads(path.read_text()) if path.exists() else {}
