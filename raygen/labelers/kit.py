"""The labeler kit: what every code's labeler shares once the code has run.

- :func:`attach_label` puts a code's energy, forces and stress (or virial) on the
  frame, in the frame's own atom order, with the shapes checked — every output reader
  ends with it;
- :class:`Markers` and :func:`judge_output`: the one judge of a code's output text —
  an unconverged-SCF marker first (such output is never data, however complete),
  then the exit code, then the markers a usable output must hold.

A code module is then its config, its input writer, its markers and its output
reader (see ``docs/architecture.md``, "Seams").
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Union

import numpy as np
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator

from raygen.labelers.base import LabelOutcome, LabelStatus

STDOUT = "stdout.log"
STDERR = "stderr.log"


def tail(path: Path, lines: int = 8) -> str:
    """The last ``lines`` lines of a text file ('' if it does not exist)."""
    try:
        text = Path(path).read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.rstrip().splitlines()[-lines:])


def voigt(tensor: np.ndarray) -> np.ndarray:
    """A 3x3 stress as ASE's Voigt vector (xx, yy, zz, yz, xz, xy)."""
    t = np.asarray(tensor)
    return np.array([t[0, 0], t[1, 1], t[2, 2], t[1, 2], t[0, 2], t[0, 1]])


def stress_from_virial(virial: np.ndarray, volume: float) -> np.ndarray:
    """ASE's stress (Voigt, eV/Å³) from a virial as dpdata/DeePMD store it
    (``-stress * volume``, eV)."""
    return voigt(-np.reshape(np.asarray(virial, dtype=float), (3, 3)) / volume)


def unsort(values: np.ndarray, perm: np.ndarray) -> np.ndarray:
    """Per-atom ``values`` of the grouped atoms, back in the frame's order."""
    out = np.empty_like(values)
    out[perm] = values
    return out


def attach_label(atoms: Atoms, energy: float, forces, *, source: str,
                 virial=None, stress=None, perm: Optional[np.ndarray] = None) -> Atoms:
    """A copy of ``atoms`` carrying ``energy`` (eV), ``forces`` (eV/Å) and, when the
    code gives one, the stress (``stress``: Voigt or 3x3, eV/Å³; or ``virial``, eV, as
    dpdata stores it). ``perm``: the order the code listed the atoms in (forces are
    put back in the frame's order). ``source`` names the file in errors."""
    forces = np.asarray(forces, dtype=float)
    if perm is not None and forces.shape == (len(atoms), 3):
        forces = unsort(forces, perm)
    if forces.shape != (len(atoms), 3):
        raise ValueError(f"{source}: forces of shape {forces.shape} for {len(atoms)} atoms")
    if not np.isfinite(energy) or not np.all(np.isfinite(forces)):
        raise ValueError(f"{source}: energy or forces are not finite")
    results = {"energy": float(energy), "forces": forces}
    if virial is not None:
        results["stress"] = stress_from_virial(virial, atoms.get_volume())
    elif stress is not None:
        s = np.asarray(stress, dtype=float)
        results["stress"] = voigt(s) if s.shape == (3, 3) else s
        if results["stress"].shape != (6,):
            raise ValueError(f"{source}: stress of shape {s.shape}")
    out = atoms.copy()
    out.calc = SinglePointCalculator(out, **results)
    return out


# a required marker: one text, or any one of several
Marker = Union[str, tuple[str, ...]]


@dataclass(frozen=True)
class Markers:
    """How a code's output says how it ended. ``output``: the file judged (in the task
    directory); ``unconverged``: texts that mean the SCF did not converge;
    ``required``: what a usable output holds (a tuple: any one of them), described
    for the message as ``what``; ``crash_logs``: where the reason for a non-zero
    exit is, first non-empty wins."""

    code: str
    output: str
    unconverged: tuple[str, ...]
    required: tuple[Marker, ...]
    what: str
    crash_logs: tuple[str, ...] = (STDERR, STDOUT)
    ignore_case: bool = False


def judge_output(task_dir: Path, returncode: int, m: Markers,
                 unconverged: Optional[str] = None) -> LabelOutcome:
    """converged / scf_unconverged / crashed / unparsable from ``m.output``.
    ``unconverged``: a code's own finding of an unconverged SCF (e.g. VASP's electronic
    steps reaching NELM), judged first like the markers."""
    out = Path(task_dir) / m.output
    text = out.read_text(errors="replace") if out.exists() else ""
    hay = text.lower() if m.ignore_case else text

    def has(marker: Marker) -> bool:
        options = (marker,) if isinstance(marker, str) else marker
        return any((o.lower() if m.ignore_case else o) in hay for o in options)

    found = unconverged or next((f"{m.code}: {u}" for u in m.unconverged if has(u)), None)
    if found:
        return LabelOutcome(LabelStatus.SCF_UNCONVERGED, message=found)
    if returncode != 0:
        reason = next((t for t in (tail(Path(task_dir) / f, 3) for f in m.crash_logs) if t), "")
        return LabelOutcome(LabelStatus.CRASHED, message=f"{m.code} exited {returncode}: "
                            + reason)
    if not all(has(r) for r in m.required):
        return LabelOutcome(LabelStatus.UNPARSABLE, message=f"{out.name}: no {m.what} "
                            "(truncated output?): " + tail(out, 2))
    return LabelOutcome(LabelStatus.CONVERGED)


def label_from_dpdata(atoms: Atoms, system, *, source: str,
                      perm: Optional[np.ndarray] = None, stress=None) -> Atoms:
    """:func:`attach_label` from the one frame of a dpdata ``LabeledSystem`` read from
    a code's output (its virial, when the format has one, unless ``stress`` is given)."""
    if system.get_nframes() != 1:
        raise ValueError(f"{source}: {system.get_nframes()} converged frames, expected 1")
    virial = system["virials"][0] if stress is None and "virials" in system.data else None
    return attach_label(atoms, float(system["energies"][0]), system["forces"][0],
                        source=source, virial=virial, stress=stress, perm=perm)


def read_dpdata_label(atoms: Atoms, path: Path, fmt: str, *,
                      perm: Optional[np.ndarray] = None) -> Atoms:
    """The label of ``atoms`` from a code's output file that dpdata reads as ``fmt``."""
    import dpdata

    system = dpdata.LabeledSystem(str(path), fmt=fmt)
    return label_from_dpdata(atoms, system, source=Path(path).name, perm=perm)
