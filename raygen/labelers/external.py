"""Running an external first-principles code: the command, its cores, its time limit.

Plain functions used by the labelers of external codes (CP2K, Quantum ESPRESSO,
GPAW, ...). A code runs in its task directory with its stdout and stderr kept
there, ``OMP_NUM_THREADS`` set, and the task's cores filled into the command
(``mpirun -np {cpus} cp2k.psmp -i input.inp``). A time limit kills the code's whole
process tree (its own process group), so nothing is left running.
"""

from __future__ import annotations

import abc
import os
import shlex
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import numpy as np
from ase import Atoms

from raygen.config.schema import LabelConfig
from raygen.labelers.base import Execution, Labeler, LabelOutcome, LabelStatus
from raygen.labelers.kit import STDERR, STDOUT, Markers, judge_output


class CodeTimeout(TimeoutError):
    """The code ran past its time limit and was killed with its process tree."""


def format_command(template: str, cpus: int, **fields: str) -> list[str]:
    """The command line of ``template`` with ``{cpus}`` (and ``fields``) filled in."""
    try:
        text = template.format(cpus=cpus, **fields)
    except (KeyError, IndexError) as err:
        raise ValueError(f"command {template!r}: unknown placeholder {err}; "
                         f"known: cpus, {', '.join(fields)}") from None
    return shlex.split(text)


def omp_threads(template: str, cpus: int) -> int:
    """OpenMP threads per process: 1 when the command starts ``{cpus}`` MPI ranks
    (they take the cores), else all the task's cores."""
    return 1 if "{cpus}" in template else max(1, cpus)


def run_code(cmd: list[str], task_dir: Path, threads: int, timeout: Optional[float],
             env: Optional[dict] = None) -> Execution:
    """Run ``cmd`` in ``task_dir`` with ``OMP_NUM_THREADS=threads``; stdout and
    stderr to ``stdout.log``/``stderr.log`` there.

    Raises :class:`CodeTimeout` after ``timeout`` seconds, once the whole process
    group (the code, its MPI ranks, their children) is gone.
    """
    task_dir = Path(task_dir)
    full_env = {**os.environ, **(env or {}), "OMP_NUM_THREADS": str(threads)}
    start = time.perf_counter()
    with open(task_dir / STDOUT, "wb") as out, open(task_dir / STDERR, "wb") as err:
        proc = subprocess.Popen(cmd, cwd=task_dir, stdout=out, stderr=err, env=full_env,
                                start_new_session=True)
        try:
            code = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            kill_group(proc)
            raise CodeTimeout(f"{cmd[0]} ran past its time limit of {timeout:g} s and was "
                              "killed with its child processes") from None
        except BaseException:
            kill_group(proc)
            raise
    return Execution(code, time.perf_counter() - start)


def kill_group(proc: subprocess.Popen) -> None:
    """SIGTERM the process group, then SIGKILL what is left; reap the leader."""
    for sig, wait in ((signal.SIGTERM, 3.0), (signal.SIGKILL, 10.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue
        # the leader is gone; make sure no member of its group survives it
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        break


def kpoint_grid(cell: np.ndarray, kspacing: float) -> list[int]:
    """Monkhorst-Pack divisions for a k-point spacing (1/Å, VASP's KSPACING
    convention: reciprocal vectors with the 2π): ``ceil(|b_i| / kspacing)``."""
    recip = 2 * np.pi * np.linalg.inv(np.asarray(cell, dtype=float)).T
    return [max(1, int(np.ceil(np.linalg.norm(b) / kspacing - 1e-9))) for b in recip]


def kpoints_for(atoms: Atoms, kpoints, kspacing: Optional[float]) -> list[int]:
    """The k-point grid a labeler config asks for: ``kpoints`` as given, else one
    from ``kspacing``, else Γ only."""
    if kpoints:
        return [int(k) for k in kpoints]
    return kpoint_grid(atoms.cell.array, kspacing) if kspacing else [1, 1, 1]


@dataclass
class ExternalLabelConfig(LabelConfig):
    """Keys every external code shares: the ``command`` (``{cpus}`` is replaced by
    the task's cores, ``cluster.labeler.num_cpus``), the user's own input
    ``template`` (raygen fills in the structure), the ``fallback`` settings a frame
    whose SCF did not converge is tried once more with (the code's own keys, e.g.
    more SCF steps, smaller mixing), and ``omp_threads`` (null: 1 when the command
    starts ``{cpus}`` MPI ranks, else all the task's cores)."""

    command: str = ""
    """the program's command line; `{cpus}` becomes the task's cores (`cluster.labeler.num_cpus`)"""
    template: Optional[str] = None
    """your own input file; raygen fills in the structure (see the code's section)"""
    fallback: dict[str, Any] = field(default_factory=dict)
    """the code's own keys for one more try after an unconverged SCF (e.g. more steps, smaller
    mixing)"""
    omp_threads: Optional[int] = None
    """OpenMP threads; null: 1 when the command starts `{cpus}` MPI ranks, else all the task's
    cores"""

    @staticmethod
    def problems(lab, cfg, key: str = "label") -> list[str]:
        """The generic keys, and that the code's command can start and its template
        exists (on a local run; on a cluster the program may live on the worker nodes
        only)."""
        out = LabelConfig.problems(lab, cfg, key)
        try:
            words = shlex.split(lab.command.replace("{cpus}", "1"))
        except ValueError as err:
            return out + [f"{key}.command: {err}"]
        if not words:
            out.append(f"{key}.command: is empty; give the command that runs the code")
        elif cfg.cluster.address is None and shutil.which(words[0]) is None:
            out.append(f"{key}.command: {words[0]!r} is not an executable on this machine's "
                       f"PATH; install the code or point {key}.command at it")
        if "{" in lab.command.replace("{cpus}", ""):
            out.append(f"{key}.command: unknown placeholder in {lab.command!r}; only {{cpus}} "
                       "is filled in")
        if lab.template and not Path(lab.template).is_file():
            out.append(f"{key}.template: file {lab.template} does not exist")
        return out


def missing_files(key: str, root: str, files: dict, type_map: list[str],
                  local: bool) -> list[str]:
    """``label.<key>`` names a file for every element, and (``local``) each exists
    below ``root``."""
    out = [f"label.{key}: no file for {el} (type_map: {', '.join(type_map)})"
           for el in type_map if el not in files]
    if local:
        for el, name in files.items():
            path = Path(root).expanduser() / name
            if el in type_map and not path.is_file():
                out.append(f"label.{key}.{el}: file {path} does not exist")
    return out


class ExternalLabeler(Labeler):
    """A code run as a program: subclasses write its inputs, judge its output and
    read the label; running it (cores, threads, time limit, logs) is done here."""

    # how the code's output says how it ended (codes whose output needs more than
    # markers override judge instead)
    markers: Optional[Markers] = None

    def write_inputs(self, atoms: Atoms, task_dir: Path, extra: Optional[dict] = None) -> None:
        self.write_code_inputs(atoms, task_dir, extra)

    def execute(self, task_dir: Path, timeout: Optional[float], cpus: int = 1,
                extra: Optional[dict] = None) -> Execution:
        cmd = format_command(self.cfg.command, cpus)
        threads = self.cfg.omp_threads or omp_threads(self.cfg.command, cpus)
        return run_code(cmd, task_dir, threads, timeout)

    def parse(self, task_dir: Path, atoms: Atoms, run: Execution) -> LabelOutcome:
        outcome = self.judge(task_dir, run.returncode)
        if outcome.status is LabelStatus.CONVERGED:
            try:
                outcome.atoms = self.read_label(task_dir, atoms)
            except Exception as err:  # noqa: BLE001 - a reader's failure is the output's
                return LabelOutcome(LabelStatus.UNPARSABLE,
                                    message=f"{type(err).__name__}: {err}")
        return outcome

    @abc.abstractmethod
    def write_code_inputs(self, atoms: Atoms, task_dir: Path,
                          extra: Optional[dict]) -> None: ...

    def judge(self, task_dir: Path, returncode: int) -> LabelOutcome:
        """converged / scf_unconverged / crashed / unparsable, from the output."""
        assert self.markers is not None, f"{type(self).__name__} has no markers"
        return judge_output(task_dir, returncode, self.markers)

    @abc.abstractmethod
    def read_label(self, task_dir: Path, atoms: Atoms) -> Atoms:
        """``atoms`` with the energy, forces and stress of a converged run."""


def species_order(atoms: Atoms) -> tuple[list[str], np.ndarray]:
    """The elements in order of first appearance, and the permutation that groups
    the atoms by element in that order (codes like VASP and ABACUS list atoms by
    species; forces read back are in that order: ``forces[inverse(perm)]``)."""
    symbols = atoms.get_chemical_symbols()
    species = list(dict.fromkeys(symbols))
    perm = np.argsort([species.index(s) for s in symbols], kind="stable")
    return species, perm


