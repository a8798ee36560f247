"""GPAW (plane waves) as a labeler, run as an external program.

GPAW is a Python library; the Python that has it (Debian's ``/usr/bin/python3``
with the ``gpaw`` package, or a cluster's module) is usually not raygen's, so the
labeler writes the frame (``input.extxyz``), the settings (``gpaw.json``) and a
small driver script (``run_gpaw.py``) into the task directory and runs it with
``label.command`` (``mpirun -np {cpus} python3 run_gpaw.py`` on a cluster). The
script reports GPAW's own verdict: its ``KohnShamConvergenceError`` becomes
``scf_unconverged``; a run that ends without its result file is ``crashed``
(non-zero exit) or ``unparsable``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from ase import Atoms
from ase.io import write

from raygen.config.merge import deep_merge
from raygen.config.plugins import LabelerName
from raygen.labelers.base import LabelOutcome, LabelStatus
from raygen.labelers.external import (
    ExternalLabelConfig,
    ExternalLabeler,
    kpoints_for,
)
from raygen.labelers.kit import STDERR, STDOUT, attach_label, tail

STRUCTURE = "input.extxyz"
SETTINGS = "gpaw.json"
SCRIPT = "run_gpaw.py"
RESULT = "result.json"
LOG = "gpaw.txt"

DRIVER = '''\
"""Written by raygen: one GPAW single point of input.extxyz with gpaw.json."""
import json
import os

from ase.io import read
from gpaw import GPAW, PW, FermiDirac, KohnShamConvergenceError
from gpaw.mpi import world

p = json.load(open("gpaw.json"))
atoms = read("input.extxyz")
atoms.calc = GPAW(mode=PW(p["ecut"]), xc=p["xc"], kpts=p["kpts"],
                  occupations=FermiDirac(p["smearing"]), maxiter=p["maxiter"],
                  convergence=p["convergence"], txt="gpaw.txt", **p["parameters"])
result = {"status": "converged", "message": ""}
try:
    result["energy"] = float(atoms.get_potential_energy())
    result["forces"] = atoms.get_forces().tolist()
    result["stress"] = atoms.get_stress().tolist()
except KohnShamConvergenceError as err:
    result = {"status": "scf_unconverged", "message": f"GPAW: {err}"}
if world.rank == 0:
    with open("result.json.tmp", "w") as fh:
        json.dump(result, fh)
    os.replace("result.json.tmp", "result.json")
'''


@dataclass
class GpawLabelConfig(ExternalLabelConfig):
    """``label=gpaw``: plane-wave cutoff ``ecut`` (eV), ``kspacing`` (1/Å) or
    ``kpoints``, Fermi-Dirac ``smearing`` (eV), SCF ``maxiter`` and
    ``convergence`` (GPAW's own dict), any other GPAW keyword in ``parameters``."""

    name: LabelerName = LabelerName["gpaw"]  # type: ignore[valid-type]
    command: str = "/usr/bin/python3 run_gpaw.py"
    ecut: float = 400.0
    """plane-wave cutoff (eV)"""
    xc: str = "PBE"
    """exchange-correlation functional"""
    kspacing: Optional[float] = 0.3
    """k-point spacing (1/Å); null: `kpoints`"""
    kpoints: Optional[list[int]] = None
    """Monkhorst-Pack grid; null: from `kspacing`"""
    smearing: float = 0.1
    """Fermi-Dirac smearing width (eV)"""
    maxiter: int = 100
    """SCF steps"""
    convergence: dict[str, Any] = field(default_factory=lambda: {"energy": 1.0e-5})
    """GPAW's own convergence criteria"""
    parameters: dict[str, Any] = field(default_factory=dict)
    """any other GPAW keyword"""


def settings(atoms: Atoms, cfg: GpawLabelConfig, extra: Optional[dict] = None) -> dict:
    """``gpaw.json``: the typed keys, then ``extra`` (a retry's fallback settings)."""
    kpts = kpoints_for(atoms, cfg.kpoints, cfg.kspacing)
    p = {"ecut": cfg.ecut, "xc": cfg.xc, "kpts": kpts, "smearing": cfg.smearing,
         "maxiter": cfg.maxiter, "convergence": dict(cfg.convergence),
         "parameters": dict(cfg.parameters)}
    return deep_merge(p, dict(extra)) if extra else p


class GpawLabeler(ExternalLabeler):
    config_class = GpawLabelConfig

    def write_code_inputs(self, atoms: Atoms, task_dir: Path, extra: Optional[dict]) -> None:
        clean = atoms.copy()
        clean.calc = None
        clean.info = {}
        write(task_dir / STRUCTURE, clean, format="extxyz")
        (task_dir / SETTINGS).write_text(json.dumps(settings(atoms, self.cfg, extra), indent=2))
        (task_dir / SCRIPT).write_text(
            Path(self.cfg.template).read_text() if self.cfg.template else DRIVER)
        (task_dir / RESULT).unlink(missing_ok=True)

    def judge(self, task_dir: Path, returncode: int) -> LabelOutcome:
        result = task_dir / RESULT
        if not result.exists():
            if returncode != 0:
                return LabelOutcome(LabelStatus.CRASHED, message=f"gpaw exited {returncode}: "
                                    + (tail(task_dir / STDERR, 3) or tail(task_dir / LOG, 3)))
            return LabelOutcome(LabelStatus.UNPARSABLE, message=f"no {RESULT}: "
                                + tail(task_dir / STDOUT, 2))
        try:
            rec = json.loads(result.read_text())
        except ValueError as err:
            return LabelOutcome(LabelStatus.UNPARSABLE, message=f"{RESULT}: {err}")
        if rec.get("status") == "scf_unconverged":
            return LabelOutcome(LabelStatus.SCF_UNCONVERGED, message=rec.get("message", ""))
        if rec.get("status") != "converged" or "forces" not in rec:
            return LabelOutcome(LabelStatus.UNPARSABLE, message=f"{RESULT}: {rec}")
        return LabelOutcome(LabelStatus.CONVERGED)

    def read_label(self, task_dir: Path, atoms: Atoms) -> Atoms:
        rec = json.loads((task_dir / RESULT).read_text())
        return attach_label(atoms, rec["energy"], rec["forces"], stress=rec["stress"],
                            source=RESULT)
