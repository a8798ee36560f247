"""Gaussian (molecules and clusters) as a labeler.

Input (``input.gjf``) written with ASE's Gaussian writer: ``label.method`` /
``label.basis`` with ``force`` and ``nosymm`` (so the input orientation is printed
and forces stay in the frame's axes), ``label.keywords`` (any other route keywords,
e.g. ``scf=(maxcycle=200)``), ``label.charge`` and ``label.multiplicity``,
``%nprocshared`` from the task's cores. Gaussian is a molecular code: the frame's
cell is ignored and no stress is read.

Judged from the log: "Convergence failure -- run terminated." is
``scf_unconverged``; a non-zero exit (without it) is ``crashed``; a log without
"Normal termination", the SCF energy or the forces is ``unparsable``. Read with dpdata
(``gaussian/log``: Hartree and Hartree/Bohr to eV and eV/Å).

Not run here: Gaussian is licensed and not installed on the development machines;
the input writer and the judging/parsing are tested on files in Gaussian's format.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator

from raygen.config.plugins import LabelerName
from raygen.labelers.base import LabelOutcome, LabelStatus
from raygen.labelers.external import (
    STDERR,
    ExternalLabelConfig,
    ExternalLabeler,
    tail,
)

INPUT = "input.gjf"
LOG = "input.log"


@dataclass
class GaussianLabelConfig(ExternalLabelConfig):
    """``label=gaussian``: ``method``, ``basis``, extra route ``keywords``,
    ``charge``, ``multiplicity``, ``memory`` (``%mem``); or your own input
    ``template`` with ``{{structure}}`` where raygen writes the charge and
    multiplicity line and the atoms (keep ``force`` in its route)."""

    name: LabelerName = LabelerName["gaussian"]  # type: ignore[valid-type]
    command: str = "g16 input.gjf"
    method: str = "B3LYP"
    """method of the route line"""
    basis: str = "6-31G*"
    """basis set of the route line"""
    keywords: str = ""
    """extra route keywords"""
    charge: int = 0
    """total charge"""
    multiplicity: int = 1
    """spin multiplicity"""
    memory: str = "2GB"
    """`%mem` line"""


def input_text(atoms: Atoms, cfg: GaussianLabelConfig, cpus: int,
               extra: Optional[dict] = None) -> str:
    from ase.io.gaussian import write_gaussian_in

    keywords = " ".join(w for w in ("nosymm", cfg.keywords,
                                    (extra or {}).get("keywords", "")) if w)
    clean = atoms.copy()
    clean.calc = None
    clean.pbc = False
    buf = io.StringIO()
    write_gaussian_in(buf, clean, properties=["energy", "forces"], method=cfg.method,
                      basis=cfg.basis, charge=cfg.charge, mult=cfg.multiplicity,
                      nprocshared=cpus, mem=cfg.memory, extra=keywords)
    text = buf.getvalue()
    if cfg.template:
        # the user's input: raygen fills in the charge/multiplicity line and atoms
        blocks = text.split("\n\n")
        structure = next(b for b in blocks if b.startswith(f"{cfg.charge} "))
        text = Path(cfg.template).read_text().replace("{{structure}}", structure.strip())
    return text


def judge(task_dir: Path, returncode: int) -> LabelOutcome:
    log = task_dir / LOG
    text = log.read_text(errors="replace") if log.exists() else ""
    if "Convergence failure -- run terminated." in text:
        return LabelOutcome(LabelStatus.SCF_UNCONVERGED,
                            message="Gaussian: Convergence failure -- run terminated.")
    if returncode != 0:
        return LabelOutcome(LabelStatus.CRASHED, message=f"gaussian exited {returncode}: "
                            + (tail(log, 3) or tail(task_dir / STDERR, 3)))
    if not ("Normal termination" in text and "SCF Done" in text
            and "Forces (Hartrees/Bohr)" in text):
        return LabelOutcome(LabelStatus.UNPARSABLE, message=f"{LOG}: no Normal termination, "
                            "SCF energy or forces (truncated output?): " + tail(log, 2))
    return LabelOutcome(LabelStatus.CONVERGED)


def parse_output(task_dir: Path, atoms: Atoms) -> Atoms:
    import dpdata

    system = dpdata.LabeledSystem(str(task_dir / LOG), fmt="gaussian/log")
    forces = np.asarray(system["forces"][0])
    if forces.shape != (len(atoms), 3):
        raise ValueError(f"{LOG}: forces of shape {forces.shape} for {len(atoms)} atoms")
    out = atoms.copy()
    out.calc = SinglePointCalculator(out, energy=float(system["energies"][0]), forces=forces)
    return out


class GaussianLabeler(ExternalLabeler):
    config_class = GaussianLabelConfig

    def write_code_inputs(self, atoms: Atoms, task_dir: Path, extra: Optional[dict]) -> None:
        (task_dir / INPUT).write_text(input_text(atoms, self.cfg, 1, extra))
        (task_dir / LOG).unlink(missing_ok=True)

    def execute(self, task_dir: Path, timeout: Optional[float], cpus: int = 1) -> None:
        # %nprocshared must match the task's cores: rewrite it now that they are known
        inp = task_dir / INPUT
        inp.write_text("\n".join(f"%nprocshared={cpus}" if ln.lower().startswith(
            "%nprocshared") else ln for ln in inp.read_text().splitlines()) + "\n")
        super().execute(task_dir, timeout, cpus)

    def judge(self, task_dir: Path, returncode: int) -> LabelOutcome:
        return judge(task_dir, returncode)

    def read_label(self, task_dir: Path, atoms: Atoms) -> Atoms:
        return parse_output(task_dir, atoms)
