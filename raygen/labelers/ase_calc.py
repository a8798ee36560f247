"""Any ASE calculator as a labeler, in-process: ``label=ase``.

``label.calculator`` names the class by import path (``ase.calculators.emt:EMT``,
``gpaw:GPAW``, ``mace.calculators:mace_mp``; a function that returns a calculator
works too) and ``label.parameters`` are its keyword arguments. The frame and the
result are extended-XYZ files in the task directory, like every other labeler's
inputs and outputs. A calculator's own convergence error (ASE's
``SCFError``/``ConvergenceError``, GPAW's ``KohnShamConvergenceError``, ...) is
``scf_unconverged``; any other exception is ``crashed``. Because the calculator
runs in raygen's process, it also relaxes the starting structures and runs the
short MD of the initial data.
"""

from __future__ import annotations

import importlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from ase import Atoms
from ase.io import read, write

from raygen.config.plugins import LabelerName
from raygen.config.schema import LabelConfig
from raygen.labelers.base import Execution, Labeler, LabelOutcome, LabelStatus

INPUT = "input.extxyz"
OUTPUT = "output.extxyz"
FAILURE = "error.txt"


@dataclass
class AseLabelConfig(LabelConfig):
    """``label=ase``: ``calculator`` as ``module:Name`` (or ``module.Name``) and its
    keyword arguments in ``parameters``."""

    name: LabelerName = LabelerName["ase"]  # type: ignore[valid-type]
    calculator: str = "ase.calculators.emt:EMT"
    """the ASE calculator as `module:Name` (or `module.Name`)"""
    parameters: dict[str, Any] = field(default_factory=dict)
    """keyword arguments of the calculator"""


def import_object(path: str):
    """``module:Name`` or ``module.Name`` -> the object (ValueError naming what is
    missing)."""
    module, sep, name = path.partition(":")
    if not sep:
        module, _, name = path.rpartition(".")
    if not module or not name:
        raise ValueError(f"{path!r} is not 'module:Name'")
    try:
        mod = importlib.import_module(module)
    except ImportError as err:
        raise ValueError(f"cannot import module {module!r} ({err})") from None
    try:
        return getattr(mod, name)
    except AttributeError:
        raise ValueError(f"module {module!r} has no {name!r}") from None


def is_convergence_error(err: BaseException) -> bool:
    """An SCF that did not converge, by the exception's class names (ASE's
    ``SCFError``, ``ConvergenceError`` and the codes' own subclasses)."""
    names = [c.__name__.lower() for c in type(err).__mro__]
    return any("convergence" in n or n == "scferror" for n in names)


class CalculatorLabeler(Labeler):
    """A labeler that is an ASE calculator run in the worker's process."""

    def make_calculator(self):
        raise NotImplementedError

    def reference_calculator(self):
        return self.make_calculator()

    def write_inputs(self, atoms, task_dir: Path, extra: Optional[dict] = None) -> None:
        clean = atoms.copy()
        clean.calc = None
        write(task_dir / INPUT, clean, format="extxyz")
        for name in (OUTPUT, FAILURE):
            (task_dir / name).unlink(missing_ok=True)

    def execute(self, task_dir: Path, timeout: Optional[float], cpus: int = 1,
                extra: Optional[dict] = None) -> Execution:
        start = time.perf_counter()
        atoms = read(task_dir / INPUT, format="extxyz")
        atoms.calc = self.make_calculator(**dict(extra)) if extra else self.make_calculator()
        try:
            atoms.get_potential_energy()
            atoms.get_forces()
            if atoms.pbc.all():
                atoms.get_stress()
        except Exception as err:  # noqa: BLE001 - judged in parse
            kind = "scf_unconverged" if is_convergence_error(err) else "crashed"
            (task_dir / FAILURE).write_text(f"{kind}\n{type(err).__name__}: {err}\n")
            return Execution(1, time.perf_counter() - start)
        write(task_dir / OUTPUT, atoms, format="extxyz")
        return Execution(0, time.perf_counter() - start)

    def parse(self, task_dir: Path, atoms: Atoms, run: Execution) -> LabelOutcome:
        failure = task_dir / FAILURE
        if failure.exists():
            kind, _, message = failure.read_text().partition("\n")
            return LabelOutcome(LabelStatus(kind), message=message.strip())
        out = task_dir / OUTPUT
        if not out.exists():
            return LabelOutcome(LabelStatus.CRASHED, message=f"{out} was not written")
        return LabelOutcome(LabelStatus.CONVERGED, atoms=read(out, format="extxyz"))


class AseLabeler(CalculatorLabeler):
    config_class = AseLabelConfig

    def problems(self, type_map: list[str], local: bool = True) -> list[str]:
        try:
            import_object(self.cfg.calculator)
        except ValueError as err:
            return [f"label.calculator: {err}"] if local else []
        return []

    def make_calculator(self, **extra):
        factory = import_object(self.cfg.calculator)
        return factory(**{**dict(self.cfg.parameters), **extra})
