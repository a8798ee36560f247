"""ASE's EMT potential as the embedded reference labeler.

EMT (effective medium theory) is a real many-body potential for Cu and other fcc
metals and costs microseconds per frame, so the whole concurrent-learning loop runs
on a laptop and its result can be checked against the same reference. It goes
through the same write/execute/parse steps as a DFT code: input and output are
extended-XYZ files in the task directory.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from ase.calculators.emt import EMT
from ase.io import read, write

from raygen.config import LabelConfig
from raygen.labelers.base import Labeler, LabelOutcome, LabelStatus
from raygen.plugins import LabelerName

INPUT = "input.extxyz"
OUTPUT = "output.extxyz"


@dataclass
class EmtLabelConfig(LabelConfig):
    """``label=emt``: ASE's EMT calculator; ``asap_cutoff`` is its own switch to
    the cutoff convention of ASAP's EMT (ASE's default: off)."""

    name: LabelerName = LabelerName["emt"]  # type: ignore[valid-type]
    asap_cutoff: bool = False


class EmtLabeler(Labeler):
    name = "emt"
    config_class = EmtLabelConfig

    def write_inputs(self, atoms, task_dir: Path, extra: Optional[dict] = None) -> None:
        clean = atoms.copy()
        clean.calc = None
        write(task_dir / INPUT, clean, format="extxyz")

    def execute(self, task_dir: Path, timeout: Optional[float], cpus: int = 1) -> None:
        atoms = read(task_dir / INPUT, format="extxyz")
        atoms.calc = self.reference_calculator()
        atoms.get_potential_energy()
        atoms.get_forces()
        atoms.get_stress()
        write(task_dir / OUTPUT, atoms, format="extxyz")

    def parse(self, task_dir: Path) -> LabelOutcome:
        out = task_dir / OUTPUT
        if not out.exists():
            return LabelOutcome(LabelStatus.CRASHED, message=f"{out} was not written")
        atoms = read(out, format="extxyz")
        return LabelOutcome(LabelStatus.CONVERGED, atoms=atoms)

    def reference_calculator(self):
        return EMT(asap_cutoff=bool(getattr(self.cfg, "asap_cutoff", False)))
