"""Any program as a labeler: ``label=custom`` (DP-GEN's ``fp_style: custom``).

raygen writes the frame as ``input_file`` in ``input_fmt`` (any format
``ase.io.write`` knows: extxyz, vasp, espresso-in, ...), runs ``command`` in the
task directory, and reads ``output_file`` in ``output_fmt`` (any format
``ase.io.read`` knows that carries energy and forces: extxyz, vasp-out,
espresso-out, ...). The user's program decides how the label is computed; raygen
judges what it can: a non-zero exit is ``crashed``; no output, or one without
energy and forces, is ``unparsable``; a match of ``unconverged_pattern`` (a regular
expression searched in the output file and stdout, e.g. ``SCF NOT CONVERGED``) is
``scf_unconverged``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from ase import Atoms
from ase.io import read, write
from ase.io.formats import ioformats

from raygen.config.plugins import LabelerName
from raygen.config.schema import check_path_name
from raygen.labelers.base import LabelOutcome, LabelStatus
from raygen.labelers.external import (
    ExternalLabelConfig,
    ExternalLabeler,
)
from raygen.labelers.kit import STDERR, STDOUT, attach_label, tail
from raygen.state.workdir import FRAME_FILE


@dataclass
class CustomLabelConfig(ExternalLabelConfig):
    """``label=custom``: ``command`` reads ``input_file`` and writes ``output_file``;
    formats are ASE's names."""

    name: LabelerName = LabelerName["custom"]  # type: ignore[valid-type]
    input_file: str = "input.extxyz"
    """file the frame is written to, inside the task directory"""
    input_fmt: str = "extxyz"
    """ASE format of the input file"""
    output_file: str = "output.extxyz"
    """file the program writes energy, forces (and stress) to, inside the task directory"""
    output_fmt: str = "extxyz"
    """ASE format of the output file"""
    unconverged_pattern: Optional[str] = None
    """a regular expression; output matching it means an unconverged SCF (never data)"""

    @staticmethod
    def problems(lab, cfg, key: str = "label") -> list[str]:
        """The program's keys, and the custom ones: both files are plain names inside
        the task directory (never an absolute path or ``..``: raygen deletes and
        writes them), formats ASE can write and read, a pattern that compiles."""
        out = ExternalLabelConfig.problems(lab, cfg, key)
        for name in ("input_file", "output_file"):
            why = check_path_name(getattr(lab, name))
            if why:
                out.append(f"{key}.{name}: {why}")
            elif getattr(lab, name) in (STDOUT, STDERR, FRAME_FILE):
                out.append(f"{key}.{name}: {getattr(lab, name)!r} is a file raygen itself "
                           "writes in the task directory; choose another name")
        if lab.input_file == lab.output_file:
            out.append(f"{key}.output_file: is the input file {lab.input_file!r}")
        for name, need in (("input_fmt", "can_write"), ("output_fmt", "can_read")):
            fmt = getattr(lab, name)
            known = ioformats.get(fmt)
            if known is None or not getattr(known, need):
                what = "write" if need == "can_write" else "read"
                out.append(f"{key}.{name}: {fmt!r} is not a format ASE can {what} (e.g. "
                           f"extxyz, vasp, espresso-in, espresso-out, vasp-out)")
        if lab.unconverged_pattern:
            try:
                re.compile(lab.unconverged_pattern)
            except re.error as err:
                out.append(f"{key}.unconverged_pattern: not a regular expression ({err})")
        return out


class CustomLabeler(ExternalLabeler):
    config_class = CustomLabelConfig

    def write_code_inputs(self, atoms: Atoms, task_dir: Path, extra: Optional[dict]) -> None:
        clean = atoms.copy()
        clean.calc = None
        clean.info = {}
        write(task_dir / self.cfg.input_file, clean, format=self.cfg.input_fmt)
        (task_dir / self.cfg.output_file).unlink(missing_ok=True)

    def judge(self, task_dir: Path, returncode: int) -> LabelOutcome:
        out = task_dir / self.cfg.output_file
        if self.cfg.unconverged_pattern:
            pattern = re.compile(self.cfg.unconverged_pattern)
            for f in (out, task_dir / STDOUT):
                if f.exists() and pattern.search(f.read_text(errors="replace")):
                    return LabelOutcome(LabelStatus.SCF_UNCONVERGED,
                                        message=f"{f.name} matches {pattern.pattern!r}")
        if returncode != 0:
            return LabelOutcome(LabelStatus.CRASHED, message=f"exited {returncode}: "
                                + (tail(task_dir / STDERR, 3) or tail(task_dir / STDOUT, 3)))
        if not out.exists():
            return LabelOutcome(LabelStatus.UNPARSABLE,
                                message=f"the command did not write {out.name}")
        return LabelOutcome(LabelStatus.CONVERGED)

    def read_label(self, task_dir: Path, atoms: Atoms) -> Atoms:
        got = read(task_dir / self.cfg.output_file, format=self.cfg.output_fmt)
        if len(got) != len(atoms):
            raise ValueError(f"{self.cfg.output_file}: {len(got)} atoms, the frame has "
                             f"{len(atoms)}")
        try:
            stress = got.get_stress()
        except Exception:  # noqa: BLE001 - stress is optional
            stress = None
        return attach_label(atoms, got.get_potential_energy(), got.get_forces(),
                            stress=stress, source=self.cfg.output_file)
