"""The labeler interface: write inputs in a task directory, run, judge the output.

A labeler is a first-principles code (or, by default, a reference potential) seen
through three steps, so that external programs (CP2K, Quantum ESPRESSO, VASP,
GPAW, ...) plug in the same way as an in-process ASE calculator:

1. ``write_inputs(atoms, task_dir)`` — everything the code needs, in ``task_dir``;
2. ``execute(task_dir, timeout)`` — run it (a subprocess, MPI, or in-process);
3. ``parse(task_dir)`` — read the output and judge it: a typed
   :class:`LabelOutcome` (converged / SCF-unconverged / crashed / timed out).

Only ``CONVERGED`` outcomes ever become training data.
"""

from __future__ import annotations

import abc
import time
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Optional

from ase import Atoms
from ase.calculators.calculator import Calculator

from raygen.config.schema import LabelConfig


class LabelStatus(str, Enum):
    CONVERGED = "converged"
    SCF_UNCONVERGED = "scf_unconverged"
    CRASHED = "crashed"
    TIMEOUT = "timeout"
    UNPARSABLE = "unparsable"


# Failures worth another try of the same settings (a node, a license, a time limit);
# an unconverged SCF is tried again only with the user's fallback settings.
TRANSIENT = (LabelStatus.CRASHED, LabelStatus.TIMEOUT)


class TransientLabelError(RuntimeError):
    """A failure worth retrying (node lost, license server busy, ...)."""


@dataclass
class LabelOutcome:
    """What one labelling task produced. ``atoms`` carries the energy, forces and
    stress (``SinglePointCalculator``) when ``status`` is ``CONVERGED``."""

    status: LabelStatus
    atoms: Optional[Atoms] = None
    message: str = ""
    wall_time: float = 0.0
    attempts: list = field(default_factory=list)

    @property
    def usable(self) -> bool:
        return self.status is LabelStatus.CONVERGED and self.atoms is not None


@dataclass(frozen=True)
class Execution:
    """What running the code gave, handed from ``execute`` to ``parse``: its exit code
    and wall time."""

    returncode: int = 0
    wall_s: float = 0.0


class Labeler(abc.ABC):
    """Base class of all labelers; subclasses implement the three steps.

    A new labeler is a module with a subclass and its config dataclass (a
    subclass of :class:`raygen.config.schema.LabelConfig` with the code's own keys), a
    line in :data:`raygen.config.plugins.LABELERS` and a YAML in ``conf/label/``.
    """

    config_class: type[LabelConfig] = LabelConfig

    def __init__(self, cfg: LabelConfig) -> None:
        self.cfg = cfg

    @abc.abstractmethod
    def write_inputs(self, atoms: Atoms, task_dir: Path, extra: Optional[dict] = None) -> None:
        """``extra``: settings that override the config (a retry's fallback)."""

    @abc.abstractmethod
    def execute(self, task_dir: Path, timeout: Optional[float], cpus: int = 1,
                extra: Optional[dict] = None) -> Execution:
        """Run the code on ``cpus`` cores, for at most ``timeout`` seconds."""

    @abc.abstractmethod
    def parse(self, task_dir: Path, atoms: Atoms, run: Execution) -> LabelOutcome:
        """The outcome of ``run`` (the frame ``atoms`` with its label when converged)."""

    def problems(self, type_map: list[str], local: bool = True) -> list[str]:
        """What is wrong with the config for these elements, as ``label.<key>: ...``
        messages, found before any work starts (``local``: the files the code needs
        are on this machine, not only on a cluster's nodes)."""
        return []

    def reference_calculator(self) -> Optional[Calculator]:
        """An ASE calculator of the same level of theory, if one exists.

        Used to relax starting structures and to run the short MD of the initial
        data (DP-GEN's ``init_bulk``); labelers without one need ``init.data``.
        """
        return None

    def label(self, atoms: Atoms, task_dir: Path, cpus: int = 1,
              extra: Optional[dict] = None) -> LabelOutcome:
        """The three steps in order, timed; a crash becomes a ``CRASHED`` outcome,
        a :class:`TransientLabelError` propagates so Ray retries the task."""
        task_dir = Path(task_dir)
        task_dir.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        try:
            self.write_inputs(atoms, task_dir, extra)
            run = self.execute(task_dir, self.cfg.timeout, cpus, extra)
            outcome = self.parse(task_dir, atoms, run)
        except TransientLabelError:
            raise
        except TimeoutError as err:
            outcome = LabelOutcome(LabelStatus.TIMEOUT, message=str(err))
        except Exception as err:  # noqa: BLE001 - any failure of the code is a crash
            outcome = LabelOutcome(LabelStatus.CRASHED, message=f"{type(err).__name__}: {err}")
        outcome.wall_time = time.perf_counter() - start
        return outcome
