"""VASP as a labeler, in DP-GEN's vocabulary.

Inputs: ``POSCAR`` (atoms grouped by element, in order of first appearance),
``INCAR`` from the user's template (``label.incar``, DP-GEN's ``fp_incar``) or a
single-point default, with raygen's keys set over it (``NSW = 0``, ``IBRION = -1``,
forces and stress, ``KSPACING``/``KGAMMA`` from ``label.kspacing``/``kgamma``, no
KPOINTS file), and ``POTCAR`` concatenated from ``label.pp_path`` + ``label.pp_files``
per element in POSCAR's order — each file checked to be that element's potential
(its ``TITEL``/first line), the mistake DP-GEN users make most.

Judged from ``OUTCAR``: the electronic steps of the (only) ionic step reaching
``NELM`` is ``scf_unconverged`` (VASP goes on and prints forces anyway); a non-zero
exit is ``crashed``; an OUTCAR without forces, energy or VASP's closing "General
timing and accounting" is ``unparsable``. Read with dpdata (``vasp/outcar``): the
free energy TOTEN, forces, and the stress (kB) as a virial.

Not run here: VASP is licensed and not installed on the development machines; the
input writer and the judging/parsing are tested on files in VASP's format (see
``tests/labelers/test_input_writers.py``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from ase import Atoms
from ase.io import write

from raygen.config.plugins import LabelerName
from raygen.labelers.base import LabelOutcome
from raygen.labelers.external import (
    ExternalLabelConfig,
    ExternalLabeler,
    missing_files,
    species_order,
)
from raygen.labelers.kit import (
    Markers,
    judge_output,
    read_dpdata_label,
)

OUTCAR = "OUTCAR"
DEFAULT_INCAR = {"PREC": "Accurate", "ENCUT": 400, "ISMEAR": 1, "SIGMA": 0.2,
                 "EDIFF": 1e-6, "NELM": 100, "LREAL": "Auto", "ALGO": "Normal"}
# what a labelling single point must be, whatever the template says
FORCED = {"NSW": 0, "IBRION": -1, "ISIF": 2, "LWAVE": ".FALSE.", "LCHARG": ".FALSE."}


@dataclass
class VaspLabelConfig(ExternalLabelConfig):
    """``label=vasp``: ``incar`` (a template INCAR, null: a single-point default),
    ``incar_tags`` set over it, ``pp_path`` and ``pp_files`` (element -> POTCAR
    path below ``pp_path``), ``kspacing`` (1/Å, VASP's own KSPACING) and
    ``kgamma``."""

    name: LabelerName = LabelerName["vasp"]  # type: ignore[valid-type]
    command: str = "vasp_std"
    incar: Optional[str] = None
    """a template INCAR file; null: a single-point default"""
    incar_tags: dict[str, Any] = field(default_factory=dict)
    """INCAR tags set over it"""
    pp_path: str = "."
    """directory of the POTCARs"""
    pp_files: dict[str, str] = field(default_factory=dict)
    """POTCAR path below `pp_path` per element"""
    kspacing: float = 0.3
    """VASP's KSPACING (1/Å)"""
    kgamma: bool = False
    """VASP's KGAMMA"""


def parse_incar(text: str) -> dict[str, str]:
    """INCAR tags (upper-cased names, values as written; comments dropped)."""
    tags: dict[str, str] = {}
    for line in text.splitlines():
        for stmt in re.split(r";", re.split(r"[#!]", line)[0]):
            if "=" in stmt:
                key, _, value = stmt.partition("=")
                tags[key.strip().upper()] = value.strip()
    return tags


def _fmt(value: Any) -> str:
    if isinstance(value, bool):
        return ".TRUE." if value else ".FALSE."
    return str(value)


def incar_text(cfg: VaspLabelConfig, extra: Optional[dict] = None) -> str:
    """The template's (or the default) tags, then ``incar_tags``, the k-point
    spacing, a retry's ``extra`` tags, and the single-point keys last."""
    incar = cfg.incar or cfg.template  # `template` is the INCAR template for VASP
    tags = parse_incar(Path(incar).read_text()) if incar else \
        {k: _fmt(v) for k, v in DEFAULT_INCAR.items()}
    tags.update({k.upper(): _fmt(v) for k, v in dict(cfg.incar_tags).items()})
    tags["KSPACING"] = _fmt(cfg.kspacing)
    tags["KGAMMA"] = _fmt(bool(cfg.kgamma))
    tags.update({k.upper(): _fmt(v) for k, v in dict(extra or {}).items()})
    tags.update(FORCED)
    return "".join(f"{k} = {v}\n" for k, v in tags.items())


def potcar_element(text: str) -> str:
    """The element a POTCAR is for: its first line (``PAW_PBE Cu_pv 06Sep2000``)."""
    words = text.splitlines()[0].split() if text.strip() else []
    label = words[1] if len(words) > 1 else ""
    return re.split(r"[_.]", label)[0]


def potcar_text(species: list[str], cfg: VaspLabelConfig) -> str:
    """POTCAR: each element's file in POSCAR's species order (ValueError naming the
    element whose file is missing or is another element's)."""
    parts = []
    for el in species:
        if el not in cfg.pp_files:
            raise ValueError(f"label.pp_files: no POTCAR for {el}")
        path = Path(cfg.pp_path).expanduser() / cfg.pp_files[el]
        text = path.read_text()
        if potcar_element(text) != el:
            raise ValueError(f"label.pp_files.{el}: {path} is a potential for "
                             f"{potcar_element(text) or 'an unknown element'!r}, not {el}")
        parts.append(text if text.endswith("\n") else text + "\n")
    return "".join(parts)


def write_inputs(atoms: Atoms, cfg: VaspLabelConfig, task_dir: Path,
                 extra: Optional[dict] = None) -> None:
    species, perm = species_order(atoms)
    grouped = atoms[perm]
    grouped.calc = None
    write(task_dir / "POSCAR", grouped, format="vasp", direct=True, sort=False)
    (task_dir / "INCAR").write_text(incar_text(cfg, extra))
    (task_dir / "POTCAR").write_text(potcar_text(species, cfg))
    (task_dir / OUTCAR).unlink(missing_ok=True)


_ITERATION = re.compile(r"Iteration\s+(\d+)\s*\(\s*(\d+)\s*\)")
_NELM = re.compile(r"NELM\s*=\s*(\d+)")


MARKERS = Markers("VASP", OUTCAR, unconverged=(),
                  required=("TOTAL-FORCE", "free  energy   TOTEN", "General timing and accounting"),
                  what="forces, energy or closing timing")


def judge(task_dir: Path, returncode: int) -> LabelOutcome:
    """VASP goes on after NELM electronic steps and prints forces anyway: the last
    ionic step's electronic steps reaching NELM is an unconverged SCF."""
    out = task_dir / OUTCAR
    text = out.read_text(errors="replace") if out.exists() else ""
    nelm = _NELM.search(text)
    steps = _ITERATION.findall(text)
    unconverged = (f"VASP: {steps[-1][1]} electronic steps reached NELM = {nelm.group(1)}"
                   if nelm and steps and int(steps[-1][1]) >= int(nelm.group(1)) else None)
    return judge_output(task_dir, returncode, MARKERS, unconverged)


def parse_output(task_dir: Path, atoms: Atoms) -> Atoms:
    return read_dpdata_label(atoms, task_dir / OUTCAR, "vasp/outcar",
                             perm=species_order(atoms)[1])


class VaspLabeler(ExternalLabeler):
    config_class = VaspLabelConfig

    def problems(self, type_map: list[str], local: bool = True) -> list[str]:
        out = missing_files("pp_files", self.cfg.pp_path, dict(self.cfg.pp_files),
                            type_map, local)
        if local and self.cfg.incar and not Path(self.cfg.incar).is_file():
            out.append(f"label.incar: file {self.cfg.incar} does not exist")
        if not out and local:
            for el in type_map:
                try:
                    potcar_text([el], self.cfg)
                except (OSError, ValueError) as err:
                    out.append(str(err))
        return out

    def write_code_inputs(self, atoms: Atoms, task_dir: Path, extra: Optional[dict]) -> None:
        write_inputs(atoms, self.cfg, task_dir, extra)

    def judge(self, task_dir: Path, returncode: int) -> LabelOutcome:
        return judge(task_dir, returncode)

    def read_label(self, task_dir: Path, atoms: Atoms) -> Atoms:
        return parse_output(task_dir, atoms)
