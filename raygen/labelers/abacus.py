"""ABACUS (plane waves or numerical atomic orbitals) as a labeler.

Inputs: ``INPUT`` (``label.input`` keys over a single-point default: ``calculation
scf``, forces and stress on), ``STRU`` written by dpdata (``abacus/stru``) with the
pseudopotential (``label.pp_files``) and, for LCAO, orbital (``label.orb_files``)
file of each element — paths relative to ``label.pp_path``/``orb_path`` —, and
``KPT`` (a Monkhorst-Pack grid from ``kspacing`` or ``kpoints``).

Judged from ``OUT.ABACUS/running_scf.log``: ABACUS's own "convergence has NOT been
achieved" is ``scf_unconverged``; a non-zero exit is ``crashed``; a log without the
final energy or forces is ``unparsable``. Read with dpdata (``abacus/scf``).

Not run here: no ABACUS package exists for this machine; the input writer and the
judging/parsing are tested on files in ABACUS's format.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from ase import Atoms

from raygen.config.plugins import LabelerName
from raygen.labelers.external import (
    ExternalLabelConfig,
    ExternalLabeler,
    kpoints_for,
    missing_files,
    species_order,
)
from raygen.labelers.kit import (
    Markers,
    label_from_dpdata,
)

LOG = Path("OUT.ABACUS") / "running_scf.log"
DEFAULT_INPUT = {"basis_type": "pw", "ecutwfc": 60, "scf_thr": 1e-7, "scf_nmax": 100,
                 "smearing_method": "mp", "smearing_sigma": 0.015, "ks_solver": "cg"}


@dataclass
class AbacusLabelConfig(ExternalLabelConfig):
    """``label=abacus``: ``input`` (INPUT keys over the default, or over your own
    INPUT file given as ``template``), ``pp_path`` +
    ``pp_files`` and, for ``basis_type lcao``, ``orb_path`` + ``orb_files`` per
    element, ``kspacing`` (1/Å) or ``kpoints``."""

    name: LabelerName = LabelerName["abacus"]  # type: ignore[valid-type]
    command: str = "abacus"
    input: dict[str, Any] = field(default_factory=dict)
    """INPUT keys over the default (or over your own INPUT given as `template`)"""
    pp_path: str = "."
    """directory of the pseudopotentials"""
    pp_files: dict[str, str] = field(default_factory=dict)
    """pseudopotential file per element"""
    orb_path: str = "."
    """directory of the numerical orbitals (`basis_type lcao`)"""
    orb_files: dict[str, str] = field(default_factory=dict)
    """orbital file per element (`basis_type lcao`)"""
    kspacing: Optional[float] = 0.3
    """k-point spacing (1/Å); null: `kpoints`"""
    kpoints: Optional[list[int]] = None
    """Monkhorst-Pack grid; null: from `kspacing`"""


def read_input(text: str) -> dict[str, str]:
    """Keys of an ABACUS INPUT file (after ``INPUT_PARAMETERS``; ``#`` comments)."""
    keys = {}
    for line in text.splitlines():
        words = line.split("#")[0].split()
        if len(words) >= 2 and words[0] != "INPUT_PARAMETERS":
            keys[words[0]] = " ".join(words[1:])
    return keys


def input_keys(cfg: AbacusLabelConfig, extra: Optional[dict] = None) -> dict[str, Any]:
    """The default (or the user's INPUT ``template``), ``label.input``, a retry's
    ``extra``, then the keys raygen needs for a single point."""
    base = read_input(Path(cfg.template).read_text()) if cfg.template else DEFAULT_INPUT
    keys = {**base, **dict(cfg.input), **dict(extra or {})}
    keys.update({"calculation": "scf", "cal_force": 1, "cal_stress": 1,
                 "stru_file": "STRU", "kpoint_file": "KPT", "suffix": "ABACUS",
                 "pseudo_dir": "./", "orbital_dir": "./"})
    return keys


def _file_of(el: str, files: dict, root: str, key: str) -> str:
    if el not in files:
        raise ValueError(f"label.{key}: no file for {el}")
    path = Path(root).expanduser() / files[el]
    return str(path.resolve())


def write_inputs(atoms: Atoms, cfg: AbacusLabelConfig, task_dir: Path,
                 extra: Optional[dict] = None) -> None:
    import dpdata
    from ase.data import atomic_masses, atomic_numbers

    keys = input_keys(cfg, extra)
    species, perm = species_order(atoms)
    grouped = atoms[perm]
    grouped.calc = None
    system = dpdata.System(grouped, fmt="ase/structure")
    lcao = str(keys.get("basis_type", "pw")).lower().startswith("lcao")
    kwargs: dict[str, Any] = {
        "pp_file": [_file_of(el, cfg.pp_files, cfg.pp_path, "pp_files") for el in species],
        "mass": [float(atomic_masses[atomic_numbers[el]]) for el in species]}
    if lcao:
        kwargs["numerical_orbital"] = [_file_of(el, cfg.orb_files, cfg.orb_path, "orb_files")
                                       for el in species]
    system.to("abacus/stru", str(task_dir / "STRU"), **kwargs)
    (task_dir / "INPUT").write_text(
        "INPUT_PARAMETERS\n" + "".join(f"{k:<20} {v}\n" for k, v in keys.items()))
    kpts = kpoints_for(atoms, cfg.kpoints, cfg.kspacing)
    (task_dir / "KPT").write_text("K_POINTS\n0\nMonkhorst-Pack\n"
                                  + " ".join(map(str, kpts)) + " 0 0 0\n")
    (task_dir / LOG).unlink(missing_ok=True)


MARKERS = Markers("ABACUS", LOG, unconverged=("convergence has NOT been achieved",),
                  required=(("final etot is", "TOTAL ENERGY"), "TOTAL-FORCE"),
                  what="final energy or forces", ignore_case=True)


def parse_output(task_dir: Path, atoms: Atoms) -> Atoms:
    import dpdata

    # dpdata reads ABACUS's run from the task folder (INPUT, STRU, OUT.*/running_scf.log)
    system = dpdata.LabeledSystem(str(task_dir), fmt="abacus/scf")
    return label_from_dpdata(atoms, system, source=LOG, perm=species_order(atoms)[1])


class AbacusLabeler(ExternalLabeler):
    config_class = AbacusLabelConfig
    markers = MARKERS

    def problems(self, type_map: list[str], local: bool = True) -> list[str]:
        out = missing_files("pp_files", self.cfg.pp_path, dict(self.cfg.pp_files),
                            type_map, local)
        if str(self.cfg.input.get("basis_type", "pw")).lower().startswith("lcao"):
            out += missing_files("orb_files", self.cfg.orb_path, dict(self.cfg.orb_files),
                                 type_map, local)
        return out

    def write_code_inputs(self, atoms: Atoms, task_dir: Path, extra: Optional[dict]) -> None:
        write_inputs(atoms, self.cfg, task_dir, extra)

    def read_label(self, task_dir: Path, atoms: Atoms) -> Atoms:
        return parse_output(task_dir, atoms)
