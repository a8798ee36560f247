"""ASE's EMT potential as the embedded reference labeler.

EMT (effective medium theory) is a real many-body potential for Cu and other fcc
metals and costs microseconds per frame, so the whole concurrent-learning loop runs
on a laptop and its result can be checked against the same reference. It goes
through the same write/execute/parse steps as a DFT code: input and output are
extended-XYZ files in the task directory (it is ``label=ase`` with EMT fixed).
"""

from __future__ import annotations

from dataclasses import dataclass

from ase.calculators.emt import EMT

from raygen.config.plugins import LabelerName
from raygen.config.schema import LabelConfig
from raygen.labelers.ase_calc import CalculatorLabeler


@dataclass
class EmtLabelConfig(LabelConfig):
    """``label=emt``: ASE's EMT calculator; ``asap_cutoff`` is its own switch to
    the cutoff convention of ASAP's EMT (ASE's default: off)."""

    name: LabelerName = LabelerName["emt"]  # type: ignore[valid-type]
    asap_cutoff: bool = False
    """ASAP's EMT cutoff convention (ASE's default: off)"""


class EmtLabeler(CalculatorLabeler):
    config_class = EmtLabelConfig

    def make_calculator(self, **extra):
        return EMT(asap_cutoff=bool(getattr(self.cfg, "asap_cutoff", False)))
