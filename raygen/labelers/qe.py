"""Quantum ESPRESSO (``pw.x``, plane waves) as a labeler.

The input (``input.pwi``) is written with ASE's pw.x writer from the typed keys —
``pseudo_dir``, a pseudopotential file per element, ``ecutwfc``/``ecutrho`` (Ry),
k-points from ``kspacing`` (1/Å, VASP's convention) or ``kpoints`` (a Monkhorst-Pack grid,
Γ-centred with ``kgamma``), Marzari-Vanderbilt
``smearing``/``degauss`` — with ``input_data`` merged in (any namelist key, e.g.
``{electrons: {mixing_beta: 0.3}}``); or from the user's own ``template`` in which
raygen fills in ``{{structure}}`` (``ATOMIC_SPECIES``, ``CELL_PARAMETERS``,
``ATOMIC_POSITIONS`` and ``nat``/``ntyp`` are theirs to place with ``{{nat}}``,
``{{ntyp}}``) — see ``conf/label/qe.yaml``.

Judged from pw.x's own output, never from "a file exists": "convergence NOT
achieved" (pw.x still prints "JOB DONE") is ``scf_unconverged``; a non-zero exit is
``crashed``; an output without the total energy, the forces or "JOB DONE" is
``unparsable``. Read with dpdata (``qe/pw/scf``: Ry, Ry/bohr and kbar to eV, eV/Å
and a virial).
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from ase import Atoms

from raygen.config.merge import deep_merge
from raygen.config.plugins import LabelerName
from raygen.labelers.base import LabelOutcome
from raygen.labelers.external import (
    ExternalLabelConfig,
    ExternalLabeler,
    kpoints_for,
    missing_files,
)
from raygen.labelers.kit import STDERR, STDOUT, Markers, judge_output, label_from_dpdata

INPUT = "input.pwi"


@dataclass
class QeLabelConfig(ExternalLabelConfig):
    """``label=qe``: ``pseudo_dir`` and ``pseudopotentials`` (element -> file name),
    cutoffs in Ry (``ecutrho`` null: 4 x ``ecutwfc``), ``kspacing`` (1/Å) or
    ``kpoints``, ``smearing`` (pw.x's name) with ``degauss`` (Ry), SCF
    ``electron_maxstep``/``conv_thr`` (Ry), any other namelist key in ``input_data``
    (``{system: {...}, electrons: {...}}``)."""

    name: LabelerName = LabelerName["qe"]  # type: ignore[valid-type]
    command: str = "pw.x -in input.pwi"
    pseudo_dir: str = "."
    """directory of the pseudopotentials"""
    pseudopotentials: dict[str, str] = field(default_factory=dict)
    """pseudopotential file per element"""
    ecutwfc: float = 50.0
    """wave-function cutoff (Ry)"""
    ecutrho: Optional[float] = None
    """density cutoff (Ry); null: 4 × `ecutwfc`"""
    kspacing: Optional[float] = 0.3
    """k-point spacing (1/Å); null: `kpoints`"""
    kpoints: Optional[list[int]] = None
    """Monkhorst-Pack grid; null: from `kspacing`"""
    kgamma: bool = False
    """Γ-point only (pw.x's `K_POINTS gamma`)"""
    smearing: str = "mv"
    """pw.x's smearing name"""
    degauss: float = 0.02
    """smearing width (Ry)"""
    electron_maxstep: int = 100
    """SCF steps"""
    conv_thr: float = 1.0e-8
    """SCF convergence threshold (Ry)"""
    input_data: dict[str, Any] = field(default_factory=dict)
    """any other namelist key, `{system: {...}, electrons: {...}}`"""


def namelists(cfg: QeLabelConfig, extra: Optional[dict] = None) -> dict[str, dict]:
    """pw.x's namelists: a single point with forces and stress, then the user's
    ``input_data``, then ``extra`` (a retry's fallback settings)."""
    data: dict[str, dict] = {
        "control": {"calculation": "scf", "tprnfor": True, "tstress": True,
                    "pseudo_dir": str(Path(cfg.pseudo_dir).expanduser()),
                    "outdir": "./tmp", "disk_io": "none"},
        "system": {"ecutwfc": cfg.ecutwfc, "ecutrho": cfg.ecutrho or 4 * cfg.ecutwfc,
                   "occupations": "smearing", "smearing": cfg.smearing,
                   "degauss": cfg.degauss},
        "electrons": {"electron_maxstep": cfg.electron_maxstep, "conv_thr": cfg.conv_thr},
    }
    data = deep_merge(data, {k.lower(): dict(v) for k, v in dict(cfg.input_data).items()})
    if extra:
        data = deep_merge(data, {k.lower(): dict(v) for k, v in dict(extra).items()})
    return data


def missing_pseudopotentials(symbols, cfg: QeLabelConfig) -> list[str]:
    return sorted({s for s in symbols if s not in cfg.pseudopotentials})


def write_input(atoms: Atoms, cfg: QeLabelConfig, path: Path,
                extra: Optional[dict] = None) -> None:
    """``input.pwi``: ASE's writer (angstrom cell and positions, which dpdata reads
    back), or the user's template with the structure cards filled in."""
    from ase.io.espresso import write_espresso_in

    missing = missing_pseudopotentials(atoms.get_chemical_symbols(), cfg)
    if missing:
        raise ValueError(f"label.pseudopotentials: no file for {', '.join(missing)}")
    kpts = kpoints_for(atoms, cfg.kpoints, cfg.kspacing)
    clean = atoms.copy()
    clean.calc = None
    buf = io.StringIO()
    # Monkhorst-Pack (shifted for even divisions, as CP2K, GPAW and VASP's KSPACING
    # grids) unless kgamma asks for a Γ-centred grid
    koffset = tuple(0 if cfg.kgamma else (k + 1) % 2 for k in kpts)
    write_espresso_in(buf, clean, input_data=namelists(cfg, extra),
                      pseudopotentials=dict(cfg.pseudopotentials), kpts=kpts, koffset=koffset)
    text = buf.getvalue()
    if cfg.template:
        cards = text[text.index("ATOMIC_SPECIES"):]
        text = (Path(cfg.template).read_text().replace("{{structure}}", cards)
                .replace("{{nat}}", str(len(atoms)))
                .replace("{{ntyp}}", str(len(set(atoms.get_chemical_symbols())))))
    path.write_text(text)


MARKERS = Markers("pw.x", STDOUT, unconverged=("convergence NOT achieved",),
                  required=("!    total energy", "Forces acting on atoms", "JOB DONE"),
                  what="total energy, forces or JOB DONE", crash_logs=(STDOUT, STDERR))


def judge(task_dir: Path, returncode: int, output: str = STDOUT) -> LabelOutcome:
    """The outcome of a pw.x run from its output text."""
    from dataclasses import replace

    return judge_output(task_dir, returncode, replace(MARKERS, output=output))


def parse_output(task_dir: Path, atoms: Atoms, output: str = STDOUT) -> Atoms:
    """Energy, forces and stress of a converged run, read by dpdata ``qe/pw/scf``."""
    import dpdata

    system = dpdata.LabeledSystem([str(task_dir / INPUT), str(task_dir / output)],
                                  fmt="qe/pw/scf")
    return label_from_dpdata(atoms, system, source=output)


class QeLabeler(ExternalLabeler):
    config_class = QeLabelConfig
    markers = MARKERS

    def problems(self, type_map: list[str], local: bool = True) -> list[str]:
        return missing_files("pseudopotentials", self.cfg.pseudo_dir,
                             dict(self.cfg.pseudopotentials), type_map, local)

    def write_code_inputs(self, atoms: Atoms, task_dir: Path, extra: Optional[dict]) -> None:
        write_input(atoms, self.cfg, task_dir / INPUT, extra)

    def read_label(self, task_dir: Path, atoms: Atoms) -> Atoms:
        return parse_output(task_dir, atoms)
