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

from ase import Atoms

from raygen.config.plugins import LabelerName
from raygen.labelers.base import Execution
from raygen.labelers.external import (
    ExternalLabelConfig,
    ExternalLabeler,
)
from raygen.labelers.kit import STDERR, Markers, read_dpdata_label

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


MARKERS = Markers("Gaussian", LOG, unconverged=("Convergence failure -- run terminated.",),
                  required=("Normal termination", "SCF Done", "Forces (Hartrees/Bohr)"),
                  what="Normal termination, SCF energy or forces", crash_logs=(LOG, STDERR))


def parse_output(task_dir: Path, atoms: Atoms) -> Atoms:
    return read_dpdata_label(atoms, task_dir / LOG, "gaussian/log")


class GaussianLabeler(ExternalLabeler):
    config_class = GaussianLabelConfig
    markers = MARKERS

    def write_code_inputs(self, atoms: Atoms, task_dir: Path, extra: Optional[dict]) -> None:
        (task_dir / INPUT).write_text(input_text(atoms, self.cfg, 1, extra))
        (task_dir / LOG).unlink(missing_ok=True)

    def execute(self, task_dir: Path, timeout: Optional[float], cpus: int = 1,
                extra: Optional[dict] = None) -> Execution:
        # %nprocshared must match the task's cores: rewrite it now that they are known
        inp = task_dir / INPUT
        inp.write_text("\n".join(f"%nprocshared={cpus}" if ln.lower().startswith(
            "%nprocshared") else ln for ln in inp.read_text().splitlines()) + "\n")
        return super().execute(task_dir, timeout, cpus, extra)

    def read_label(self, task_dir: Path, atoms: Atoms) -> Atoms:
        return parse_output(task_dir, atoms)
