"""Names and paths of the run directory (DP-GEN's layout, so its users feel at home).

::

    <workdir>/record.raygen                 one "iter stage" line per finished stage
    <workdir>/raygen.log                    log + per-iteration summary tables
    <workdir>/init/data.<system>/           initial data (deepmd/npy)
    <workdir>/iter.000000/00.train/000/     input.json, lcurve.out, checkpoints, frozen model
    <workdir>/iter.000000/00.train/graph.000.pb
    <workdir>/iter.000000/01.model_devi/task.000.000000/  conf.lmp, in.lammps, traj.parquet,
                                                          model_devi.out
    <workdir>/iter.000000/02.fp/candidate.shuffled.000.out (+ rest_accurate, rest_failed)
    <workdir>/iter.000000/02.fp/task.000.000000/          labeler inputs/outputs, outcome.json
    <workdir>/iter.000000/02.fp/data.000/                 new labels (deepmd/npy)
    <workdir>/iter.000000/summary.json
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

MODEL_SUFFIX = {"tf": "pb", "pt": "pth"}


@dataclass(frozen=True)
class RunDir:
    root: Path

    @property
    def record(self) -> Path:
        return self.root / "record.raygen"

    @property
    def log(self) -> Path:
        return self.root / "raygen.log"

    @property
    def init(self) -> Path:
        return self.root / "init"

    def init_data(self, system: str) -> Path:
        return self.init / f"data.{system}"

    def iter(self, ii: int) -> Path:
        return self.root / f"iter.{ii:06d}"

    def train(self, ii: int) -> Path:
        return self.iter(ii) / "00.train"

    def train_task(self, ii: int, member: int) -> Path:
        return self.train(ii) / f"{member:03d}"

    def graph(self, ii: int, member: int, backend: str = "tf") -> Path:
        return self.train(ii) / f"graph.{member:03d}.{MODEL_SUFFIX[backend]}"

    def model_devi(self, ii: int) -> Path:
        return self.iter(ii) / "01.model_devi"

    def md_task(self, ii: int, sys_idx: int, task: int) -> Path:
        return self.model_devi(ii) / f"task.{sys_idx:03d}.{task:06d}"

    def fp(self, ii: int) -> Path:
        return self.iter(ii) / "02.fp"

    def fp_task(self, ii: int, sys_idx: int, task: int) -> Path:
        return self.fp(ii) / f"task.{sys_idx:03d}.{task:06d}"

    def fp_data(self, ii: int, sys_idx: int) -> Path:
        return self.fp(ii) / f"data.{sys_idx:03d}"

    def selection_file(self, ii: int, kind: str, sys_idx: int) -> Path:
        """kind: candidate, rest_accurate or rest_failed."""
        return self.fp(ii) / f"{kind}.shuffled.{sys_idx:03d}.out"

    def summary(self, ii: int) -> Path:
        return self.iter(ii) / "summary.json"
