"""CP2K (Quickstep, GPW) as a labeler.

The input is CP2K's own section tree: a default for an energy/force/stress single
point of a periodic metal (``label.basis``, ``label.potential``, ``label.cutoff``,
k-points from ``label.kspacing`` or ``label.kpoints``, Fermi-Dirac smearing), with
``label.overrides`` merged in (any CP2K section or keyword, e.g.
``{DFT: {SCF: {MAX_SCF: 100}}}``), or the user's own input file (``label.template``)
in which raygen fills in ``{{cell}}``, ``{{coord}}`` and ``{{kinds}}``.

Judged from CP2K's output, never from "a file exists": "SCF run NOT converged"
(CP2K prints forces and "PROGRAM ENDED" anyway) is ``scf_unconverged``; a
non-zero exit is ``crashed``; an output without energy, forces or its closing line
is ``unparsable``. Energies and forces are read with dpdata (``cp2k/output``); the
analytical stress tensor (GPa), which dpdata 1.1 does not read from CP2K 2023's
``STRESS|`` lines, is read here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import numpy as np
from ase import Atoms

from raygen.config.merge import deep_merge
from raygen.config.plugins import LabelerName
from raygen.labelers.base import LabelOutcome
from raygen.labelers.external import (
    ExternalLabelConfig,
    ExternalLabeler,
    kpoints_for,
)
from raygen.labelers.kit import STDOUT, Markers, judge_output, label_from_dpdata

INPUT = "input.inp"
GPA_TO_EV_A3 = 1.0 / 160.21766208


@dataclass
class Cp2kLabelConfig(ExternalLabelConfig):
    """``label=cp2k``. Cutoffs in Ry, ``kspacing`` in 1/Å (VASP's convention),
    ``smearing_temperature`` in K (null: no smearing)."""

    name: LabelerName = LabelerName["cp2k"]  # type: ignore[valid-type]
    command: str = "cp2k.psmp -i input.inp"
    basis_set_file: str = "BASIS_MOLOPT"
    """CP2K basis-set file (name in CP2K's data directory or a path)"""
    potential_file: str = "GTH_POTENTIALS"
    """CP2K pseudopotential file (name in CP2K's data directory or a path)"""
    basis: dict[str, str] = field(default_factory=dict)
    """basis set per element, e.g. `{Cu: DZVP-MOLOPT-SR-GTH}`"""
    default_basis: str = "DZVP-MOLOPT-SR-GTH"
    """basis set of elements not in `basis`"""
    potential: dict[str, str] = field(default_factory=dict)
    """pseudopotential per element, e.g. `{Cu: GTH-PBE-q11}`"""
    default_potential: str = "GTH-PBE"
    """pseudopotential of elements not in `potential`"""
    xc: str = "PBE"
    """exchange-correlation functional"""
    cutoff: float = 400.0
    """plane-wave cutoff of the density grid (Ry)"""
    rel_cutoff: float = 50.0
    """relative cutoff (Ry)"""
    kspacing: Optional[float] = 0.3
    """k-point spacing (1/Å, VASP's convention); null: `kpoints`"""
    kpoints: Optional[list[int]] = None
    """Monkhorst-Pack grid; null: from `kspacing`"""
    max_scf: int = 50
    """SCF steps"""
    eps_scf: float = 1.0e-6
    """SCF convergence threshold"""
    smearing_temperature: Optional[float] = 1000.0
    """Fermi-Dirac smearing temperature (K); null: no smearing"""
    mixing_alpha: float = 0.3
    """density mixing parameter"""
    overrides: dict[str, Any] = field(default_factory=dict)
    """any CP2K section/keyword, e.g. `{FORCE_EVAL: {DFT: {SCF: {MAX_DIIS: 8}}}}`"""


def _render(tree: dict, depth: int = 0) -> list[str]:
    """CP2K input text of a section tree: dict -> &SECTION, "_" -> its parameter,
    a list of dicts -> repeated sections, a list -> space-separated values."""
    pad = "  " * depth
    lines = []
    for key, value in tree.items():
        if key == "_":
            continue
        sections = value if isinstance(value, list) and value and all(
            isinstance(v, dict) for v in value) else [value] if isinstance(value, dict) else None
        if sections is not None:
            for sec in sections:
                param = sec.get("_")
                lines.append(f"{pad}&{key}" + (f" {param}" if param not in (None, "") else ""))
                lines += _render(sec, depth + 1)
                lines.append(f"{pad}&END {key}")
        elif isinstance(value, bool):
            lines.append(f"{pad}{key} {'TRUE' if value else 'FALSE'}")
        elif isinstance(value, (list, tuple)):
            lines.append(f"{pad}{key} " + " ".join(str(v) for v in value))
        else:
            lines.append(f"{pad}{key} {value}")
    return lines


def _upper_keys(tree: Any) -> Any:
    if isinstance(tree, dict):
        return {(k if k == "_" else str(k).upper()): _upper_keys(v) for k, v in tree.items()}
    if isinstance(tree, list):
        return [_upper_keys(v) for v in tree]
    return tree


def structure_sections(atoms: Atoms, cfg: Cp2kLabelConfig) -> dict[str, Any]:
    """&CELL, &COORD and one &KIND per element."""
    elements = list(dict.fromkeys(atoms.get_chemical_symbols()))
    return {
        "CELL": {k: [f"{x:.10f}" for x in v] for k, v in zip("ABC", atoms.cell.array)},
        "COORD": {"_": None, **{}},
        "KIND": [{"_": el, "BASIS_SET": cfg.basis.get(el, cfg.default_basis),
                  "POTENTIAL": cfg.potential.get(el, cfg.default_potential)}
                 for el in elements],
    }


def coord_lines(atoms: Atoms) -> list[str]:
    return [f"{s} {x:.10f} {y:.10f} {z:.10f}"
            for s, (x, y, z) in zip(atoms.get_chemical_symbols(), atoms.positions)]


def input_tree(atoms: Atoms, cfg: Cp2kLabelConfig, extra: Optional[dict] = None) -> dict:
    """The whole input as a section tree: defaults, then ``cfg.overrides``, then
    ``extra`` (the fallback settings of a retry)."""
    kpts = kpoints_for(atoms, cfg.kpoints, cfg.kspacing)
    scf: dict[str, Any] = {"MAX_SCF": cfg.max_scf, "EPS_SCF": f"{cfg.eps_scf:.3E}",
                           "MIXING": {"METHOD": "BROYDEN_MIXING", "ALPHA": cfg.mixing_alpha}}
    if cfg.smearing_temperature is not None:
        scf["ADDED_MOS"] = max(20, len(atoms) * 4)
        scf["SMEAR"] = {"_": "ON", "METHOD": "FERMI_DIRAC",
                        "ELECTRONIC_TEMPERATURE": cfg.smearing_temperature}
    dft: dict[str, Any] = {
        "BASIS_SET_FILE_NAME": cfg.basis_set_file,
        "POTENTIAL_FILE_NAME": cfg.potential_file,
        "MGRID": {"CUTOFF": cfg.cutoff, "REL_CUTOFF": cfg.rel_cutoff},
        "SCF": scf,
        "XC": {"XC_FUNCTIONAL": {"_": cfg.xc}},
    }
    if kpts != [1, 1, 1]:
        dft["KPOINTS"] = {"SCHEME": ["MONKHORST-PACK", *kpts]}
    tree = {
        "GLOBAL": {"PROJECT": "raygen", "RUN_TYPE": "ENERGY_FORCE", "PRINT_LEVEL": "MEDIUM"},
        "FORCE_EVAL": {
            "METHOD": "QUICKSTEP", "STRESS_TENSOR": "ANALYTICAL",
            "PRINT": {"FORCES": {"_": "ON"}, "STRESS_TENSOR": {"_": "ON"}},
            "DFT": dft,
            "SUBSYS": structure_sections(atoms, cfg),
        },
    }
    tree = deep_merge(tree, _upper_keys(dict(cfg.overrides)))
    if extra:
        tree = deep_merge(tree, _upper_keys(dict(extra)))
    return tree


def write_input(atoms: Atoms, cfg: Cp2kLabelConfig, path: Path,
                extra: Optional[dict] = None) -> None:
    """``input.inp`` from the defaults and overrides, or from ``cfg.template``."""
    coords = coord_lines(atoms)
    if cfg.template:
        sections = structure_sections(atoms, cfg)
        kinds = "\n".join(_render({"KIND": sections["KIND"]}))
        text = (Path(cfg.template).read_text()
                .replace("{{cell}}", "\n".join(_render({"CELL": sections["CELL"]})))
                .replace("{{coord}}", "&COORD\n" + "\n".join(coords) + "\n&END COORD")
                .replace("{{kinds}}", kinds))
    else:
        lines = _render(input_tree(atoms, cfg, extra))
        at = lines.index(next(ln for ln in lines if ln.strip() == "&COORD"))
        lines[at + 1:at + 1] = ["      " + c for c in coords]
        text = "\n".join(lines)
    path.write_text(text + "\n")


_STRESS_ROW = re.compile(r"^\s*STRESS\|\s+([xyz])\s+(\S+)\s+(\S+)\s+(\S+)\s*$")


def read_stress(text: str) -> Optional[np.ndarray]:
    """The last analytical stress tensor (GPa, CP2K's sign) of an output."""
    last = None
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if "STRESS| Analytical stress tensor [GPa]" not in line:
            continue
        # the header, a line of column names, then exactly the x, y, z rows
        rows = [_STRESS_ROW.match(ln) for ln in lines[i + 2:i + 5]]
        if all(rows) and [r.group(1) for r in rows] == ["x", "y", "z"]:
            last = np.array([[float(v) for v in r.groups()[1:]] for r in rows])
    return last


MARKERS = Markers("CP2K", STDOUT, unconverged=("SCF run NOT converged",),
                  required=("ENERGY| Total FORCE_EVAL", "ATOMIC FORCES in", "PROGRAM ENDED"),
                  what="energy, forces or closing line")


def judge(task_dir: Path, returncode: int, output: str = STDOUT) -> LabelOutcome:
    """The outcome of a CP2K run from its output text."""
    from dataclasses import replace

    return judge_output(task_dir, returncode, replace(MARKERS, output=output))


def parse_output(task_dir: Path, atoms: Atoms, output: str = STDOUT) -> Atoms:
    """Energy, forces (dpdata ``cp2k/output``) and stress of a converged run."""
    import dpdata

    system = dpdata.LabeledSystem(str(task_dir / output), fmt="cp2k/output")
    stress = read_stress((task_dir / output).read_text(errors="replace"))
    # CP2K prints the pressure-like tensor (positive under compression); ASE's stress
    # has the opposite sign
    return label_from_dpdata(atoms, system, source=output,
                             stress=None if stress is None else -stress * GPA_TO_EV_A3)


class Cp2kLabeler(ExternalLabeler):
    config_class = Cp2kLabelConfig
    markers = MARKERS

    def write_code_inputs(self, atoms: Atoms, task_dir: Path, extra: Optional[dict]) -> None:
        write_input(atoms, self.cfg, task_dir / INPUT, extra)

    def read_label(self, task_dir: Path, atoms: Atoms) -> Atoms:
        return parse_output(task_dir, atoms)
