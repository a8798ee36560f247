"""LAMMPS files of one exploration (MD) task, DP-GEN style: plain functions.

The data file and input script (the dynamics is driven by the first model of the
ensemble; frames are dumped every ``trj_freq`` steps and their deviation over the
whole ensemble is computed by the deviation reducer — inside LAMMPS too only where an
early-stop rule needs it during the MD), the dump file read back as a frame table,
and LAMMPS's own deviation file read back.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np
import pyarrow as pa
from ase import Atoms
from ase.data import atomic_masses, atomic_numbers
from ase.io import write

from raygen.science.frames import FRAME_SCHEMA, frames_table

CONF_FILE = "conf.lmp"
INPUT_FILE = "in.lammps"
DUMP_FILE = "traj.dump"
LOG_FILE = "log.lammps"
DEVI_FILE = "lammps_devi.out"  # the deviation LAMMPS writes as it runs (early stop only)


def write_conf(atoms: Atoms, path: Path, type_map: list[str]) -> None:
    """LAMMPS data file with atom types in ``type_map`` order (triclinic box)."""
    write(path, atoms, format="lammps-data", specorder=list(type_map), atom_style="atomic",
          force_skew=True, masses=False)


def ensemble_fix(ensemble: str, temp: float, press: float, tau_t: float,
                 tau_p: float) -> str:
    if ensemble == "nvt":
        return f"fix 1 all nvt temp {temp} {temp} {tau_t}"
    if ensemble in ("npt", "npt-iso"):
        return f"fix 1 all npt temp {temp} {temp} {tau_t} iso {press} {press} {tau_p}"
    if ensemble == "npt-aniso":
        return f"fix 1 all npt temp {temp} {temp} {tau_t} aniso {press} {press} {tau_p}"
    if ensemble == "npt-tri":
        return f"fix 1 all npt temp {temp} {temp} {tau_t} tri {press} {press} {tau_p}"
    if ensemble == "nve":
        return "fix 1 all nve"
    raise ValueError(f"ensemble: unknown {ensemble!r}")


def pimd_fix(ensemble: str, temp: float, press: float, tau_t: float, tau_p: float) -> str:
    """DP-GEN's ``fix pimd/langevin`` line (each bead's thermostat seeded by ``${bseed}``)."""
    base = (f"fix 1 all pimd/langevin fmmode physical ensemble {ensemble.split('-')[0]} "
            f"integrator obabo thermostat PILE_L ${{bseed}} temp {temp} tau {tau_t} scale 1.0")
    if ensemble in ("npt", "npt-iso"):
        return f"{base} barostat BZP iso {press} taup {tau_p}"
    if ensemble == "npt-aniso":
        return f"{base} barostat BZP aniso {press} taup {tau_p}"
    if ensemble == "nvt":
        return base
    raise ValueError(f"ensemble: {ensemble!r} is not one PIMD takes")


def bead_dump(dump: str, bead: int) -> str:
    """Bead ``bead``'s (1-based) trajectory file."""
    return f"{dump}.{bead}"


def lammps_input(*, model: str, type_map: list[str], temp: float, press: float,
                 ensemble: str, nsteps: int, trj_freq: int, dt: float, tau_t: float,
                 tau_p: float, seed: int, neigh_skin: float = 2.0,
                 conf: str = CONF_FILE, dump: str = DUMP_FILE,
                 nbeads: Optional[int] = None, devi_models: Optional[list[str]] = None,
                 devi_file: str = DEVI_FILE, start_step: int = 0) -> str:
    """The input script (metal units: ps, bar, K, eV, Å). With ``nbeads``, path-integral MD
    on ``nbeads`` partitions as DP-GEN writes it (``fix pimd/langevin``, velocities at
    nbeads x T, a trajectory per bead ``DUMP.K``, K = 1..nbeads).

    ``devi_models``: the rest of the ensemble, given to the DeePMD pair style after the
    driving model so that LAMMPS writes the force deviation of every recorded frame to
    ``devi_file`` as the MD runs (DP-GEN's way; an early-stop rule reads it); the
    dynamics is still the driving model's. ``start_step``: the first step's number (a
    restart goes on counting from where its task stopped)."""
    masses = "\n".join(
        f"mass {i + 1} {atomic_masses[atomic_numbers[el]]:.6f}" for i, el in enumerate(type_map))
    head, atom_map, dump_file = "", "", dump
    velocity = f"{temp} {seed}"
    fix = ensemble_fix(ensemble, temp, press, tau_t, tau_p)
    if nbeads:  # DP-GEN's PIMD: a bead per partition, its own seed and trajectory
        head = (f"variable        ibead world {' '.join(str(b) for b in range(1, nbeads + 1))}\n"
                f"variable        bseed world {' '.join(str(seed + b) for b in range(nbeads))}\n")
        atom_map = "atom_modify     map yes\n"
        velocity = f"{temp * nbeads} ${{bseed}}"
        fix = pimd_fix(ensemble, temp, press, tau_t, tau_p)
        dump_file = f"{dump}.${{ibead}}"
    pair = model
    if devi_models:
        pair = f"{model} {' '.join(devi_models)} out_freq {trj_freq} out_file {devi_file}"
    reset = f"reset_timestep  {start_step}\n" if start_step else ""
    return f"""\
{head}units           metal
boundary        p p p
atom_style      atomic
{atom_map}neighbor        {neigh_skin} bin
neigh_modify    every 1 delay 0 check yes
read_data       {conf}
change_box      all triclinic
{reset}{masses}
pair_style      deepmd {pair}
pair_coeff      * *
thermo_style    custom step temp pe ke etotal press vol lx ly lz xy xz yz
thermo          {trj_freq}
velocity        all create {velocity} dist gaussian mom yes rot no
{fix}
timestep        {dt}
dump            1 all custom {trj_freq} {dump_file} id type x y z
dump_modify     1 sort id
run             {nsteps}
"""


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


def merge_beads(tables: list[pa.Table], nsteps: int) -> pa.Table:
    """The beads' frame tables as one, bead k's (0-based) steps offset by k * (nsteps + 1):
    DP-GEN's merge of ``model_devi${ibead}.out`` (``_read_model_devi_file``), so each frame
    keeps a step of its own and selection picks frames by bead."""
    import pyarrow.compute as pc

    out = []
    for k, table in enumerate(tables):
        step = pc.add(table.column("step"), pa.scalar(k * (nsteps + 1),
                                                      table.schema.field("step").type))
        out.append(table.set_column(table.schema.get_field_index("step"), "step", step))
    return pa.concat_tables(out) if out else FRAME_SCHEMA.empty_table()


def read_lammps_devi(path: Path, offset: int = 0) -> tuple[np.ndarray, np.ndarray, int]:
    """(steps, max force deviation) of the lines the DeePMD pair style wrote to ``path``
    from byte ``offset`` on, and the offset after the last complete line. A step the
    pair style wrote twice (a new ``run`` computes the forces of its first step again)
    is the caller's to drop."""
    if not Path(path).exists():
        return np.empty(0, int), np.empty(0), offset
    with open(path, "rb") as fh:
        fh.seek(offset)
        data = fh.read()
    end = data.rfind(b"\n") + 1
    steps, devi = [], []
    for line in data[:end].decode(errors="replace").splitlines():
        parts = line.split()
        if not parts or parts[0].startswith("#"):
            continue
        steps.append(int(parts[0]))
        devi.append(float(parts[4]))  # step max_devi_v min_devi_v avg_devi_v max_devi_f ...
    return np.asarray(steps, int), np.asarray(devi, float), offset + end
