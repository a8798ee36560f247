"""The exploration-engine interface: an MD code seen from both sides of the run.

- driver side, in the make step: :meth:`ExplorationEngine.write_task` writes
  everything one MD task needs into its task directory (the engine's own input
  files, with the ensemble's model paths relative to that directory);
- worker side, in an ``Explorer`` actor: :meth:`start` loads the code once per
  process, then :meth:`run` runs any number of tasks and returns each task's
  frames as an Arrow table (:data:`raygen.science.frames.FRAME_SCHEMA`) plus the error
  that stopped it, if any (the frames before the error are kept: they are the
  ones the selection marks as failed). An engine with ``early_stop`` ends a task whose
  ensemble gives up (:mod:`raygen.selection.early_stop`) and records it in the task
  directory.

An engine writes only inside the task directory it is given. A new engine is a
module with a subclass and its config dataclass (a subclass of
:class:`raygen.config.schema.ExploreConfig` holding its own keys), a line in
:data:`raygen.config.plugins.ENGINES` and a YAML in ``conf/explore/``.
"""

from __future__ import annotations

import abc
from pathlib import Path
from typing import Optional

import pyarrow as pa
from ase import Atoms

from raygen.config.schema import ExploreConfig
from raygen.selection.early_stop import StopRule
from raygen.state.schedule import MDTask


class ExplorationEngine(abc.ABC):
    config_class: type[ExploreConfig] = ExploreConfig

    def __init__(self, cfg: ExploreConfig, type_map: list[str]) -> None:
        self.cfg = cfg
        self.type_map = list(type_map)

    #: whether :meth:`run` follows an early-stop rule (``explore.early_stop``)
    early_stop = False

    @abc.abstractmethod
    def write_task(self, task_dir: Path, atoms: Atoms, task: MDTask,
                   models: list[Path], stop: Optional[StopRule] = None) -> None:
        """Write the inputs of ``task`` (starting from ``atoms``) into ``task_dir``;
        ``stop``: the rule by which its MD ends early (engines with ``early_stop``)."""

    @abc.abstractmethod
    def start(self, backend: str) -> None:
        """Load the code in this process (once per actor)."""

    @abc.abstractmethod
    def run(self, task_dir: Path, task_id: str, sys_idx: int) -> tuple[pa.Table, Optional[str]]:
        """Run the task in ``task_dir``; (frames, error message or None)."""
