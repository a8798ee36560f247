"""A multi-partition LAMMPS run (``-p Nx1``: PIMD's beads), one MPI rank per partition.

Started by the LAMMPS engine as ``mpiexec -n N python -m raygen.engines.lammps_partitions
TASK_DIR BACKEND N`` in the task directory: each rank loads MPI, the backend's framework
and the DeePMD plugin as the in-process engine does, and runs ``in.lammps`` in its
partition (``log.lammps`` is the universe's log, ``log.lammps.K`` partition K's).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    task_dir, backend, partitions = Path(argv[0]), argv[1], int(argv[2])
    from raygen.engines.lammps import load_lammps
    from raygen.engines.lammps_input import INPUT_FILE, LOG_FILE

    lammps, plugin = load_lammps(backend)
    os.chdir(task_dir)
    # LAMMPS wants the input named (-in) when it runs partitions; it is read below, after
    # the plugin is loaded
    lmp = lammps.lammps(cmdargs=["-p", f"{partitions}x1", "-in", INPUT_FILE, "-log", LOG_FILE,
                                 "-screen", "none", "-nocite"])
    try:
        lmp.command(f"plugin load {plugin}")
        lmp.file(INPUT_FILE)
    finally:
        lmp.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
