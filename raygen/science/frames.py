"""Frames as Arrow tables: the one format trajectories travel in.

One row per recorded MD frame. Positions and cells are flattened (``natoms*3`` and
9 float64 values) so a table can hold frames of different sizes; ``types`` are
indices into the run's ``type_map``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
from ase import Atoms

FRAME_SCHEMA = pa.schema([
    ("task_id", pa.string()),
    ("sys_idx", pa.int32()),
    ("step", pa.int64()),
    ("natoms", pa.int32()),
    ("cell", pa.list_(pa.float64(), 9)),
    ("positions", pa.list_(pa.float64())),
    ("types", pa.list_(pa.int32())),
])

# The deviation columns, in DP-GEN's model_devi.out order (after ``step``).
MODEL_DEVI_COLUMNS = ("max_devi_v", "min_devi_v", "avg_devi_v",
                      "max_devi_f", "min_devi_f", "avg_devi_f", "devi_e")

DESCRIPTOR_COLUMN = "descriptor"  # a deviation row's frame vector (select.pick=fps)

DEVIATION_SCHEMA = pa.schema(
    [("task_id", pa.string()), ("sys_idx", pa.int32()), ("step", pa.int64())]
    + [(c, pa.float64()) for c in MODEL_DEVI_COLUMNS])


def deviation_rows(task_id: str, sys_idx: int, steps: np.ndarray,
                   devi: np.ndarray) -> pa.Table:
    """Deviation table of one task: ``devi`` is (nframes, 7) in column order."""
    n = len(steps)
    cols = {"task_id": pa.array([task_id] * n, pa.string()),
            "sys_idx": pa.array(np.full(n, sys_idx, dtype=np.int32)),
            "step": pa.array(np.asarray(steps, dtype=np.int64))}
    cols.update({c: pa.array(np.asarray(devi[:, k], dtype=np.float64))
                 for k, c in enumerate(MODEL_DEVI_COLUMNS)})
    return pa.table(cols, schema=DEVIATION_SCHEMA)


def deviation_array(table: pa.Table) -> np.ndarray:
    """(nrows, 7) deviation values of a deviation table, in column order."""
    return np.column_stack([table.column(c).to_numpy() for c in MODEL_DEVI_COLUMNS])


def frames_table(task_id: str, sys_idx: int, steps: np.ndarray, cells: np.ndarray,
                 positions: np.ndarray, types: np.ndarray) -> pa.Table:
    """Table of ``nframes`` frames of one trajectory.

    ``cells`` is (nframes, 3, 3), ``positions`` (nframes, natoms, 3), ``types``
    (natoms,) — the same atoms in every frame.
    """
    nframes, natoms = positions.shape[0], positions.shape[1]
    types = np.asarray(types, dtype=np.int32)
    return pa.table({
        "task_id": pa.array([task_id] * nframes, pa.string()),
        "sys_idx": pa.array(np.full(nframes, sys_idx, dtype=np.int32)),
        "step": pa.array(np.asarray(steps, dtype=np.int64)),
        "natoms": pa.array(np.full(nframes, natoms, dtype=np.int32)),
        "cell": pa.FixedSizeListArray.from_arrays(
            pa.array(np.asarray(cells, dtype=np.float64).reshape(-1)), 9),
        "positions": pa.ListArray.from_arrays(
            pa.array(np.arange(nframes + 1, dtype=np.int32) * natoms * 3),
            pa.array(np.asarray(positions, dtype=np.float64).reshape(-1))),
        "types": pa.ListArray.from_arrays(
            pa.array(np.arange(nframes + 1, dtype=np.int32) * natoms),
            pa.array(np.tile(types, nframes))),
    }, schema=FRAME_SCHEMA)


def table_arrays(table: pa.Table) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(cells (n,3,3), positions (n,natoms,3), types (natoms,)) of a one-size table."""
    natoms = set(table.column("natoms").to_pylist())
    if len(natoms) != 1:
        raise ValueError(f"frames of different sizes in one batch: natoms {sorted(natoms)}")
    n = natoms.pop()
    nframes = table.num_rows
    cells = table.column("cell").combine_chunks().flatten().to_numpy().reshape(nframes, 3, 3)
    positions = (table.column("positions").combine_chunks().flatten().to_numpy()
                 .reshape(nframes, n, 3))
    types = np.asarray(table.column("types")[0].as_py(), dtype=np.int32)
    return cells, positions, types


def row_to_atoms(table: pa.Table, row: int, type_map: list[str]) -> Atoms:
    """One frame as periodic ``ase.Atoms``."""
    rec = table.slice(row, 1).to_pylist()[0]
    symbols = [type_map[t] for t in rec["types"]]
    return Atoms(symbols=symbols, positions=np.reshape(rec["positions"], (-1, 3)),
                 cell=np.reshape(rec["cell"], (3, 3)), pbc=True)


def with_labels(table: pa.Table, energies: np.ndarray, forces: np.ndarray,
                virials: np.ndarray | None = None) -> pa.Table:
    """``table`` with its frames' labels (energy, forces ``(n, natoms, 3)``, virial
    ``(n, 9)`` or none): what a true error is computed against."""
    n = table.num_rows
    natoms = forces.shape[1] if n else 0
    table = table.append_column("energy", pa.array(np.asarray(energies, dtype=np.float64)))
    table = table.append_column("forces", pa.ListArray.from_arrays(
        pa.array(np.arange(n + 1, dtype=np.int32) * natoms * 3),
        pa.array(np.asarray(forces, dtype=np.float64).reshape(-1))))
    if virials is not None:
        table = table.append_column("virial", pa.FixedSizeListArray.from_arrays(
            pa.array(np.asarray(virials, dtype=np.float64).reshape(-1)), 9))
    return table


def label_arrays(table: pa.Table) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """(energies (n,), forces (n, natoms, 3), virials (n, 9) or None) of a one-size
    table with labels (:func:`with_labels`)."""
    if "energy" not in table.column_names or "forces" not in table.column_names:
        raise ValueError("the frames carry no labels (energy, forces)")
    n = table.num_rows
    natoms = int(table.column("natoms")[0].as_py()) if n else 0
    energies = table.column("energy").to_numpy()
    forces = table.column("forces").combine_chunks().flatten().to_numpy().reshape(n, natoms, 3)
    virials = (table.column("virial").combine_chunks().flatten().to_numpy().reshape(n, 9)
               if "virial" in table.column_names else None)
    return energies, forces, virials


def write_descriptors(path, devi: pa.Table) -> None:
    """A task's frame vectors (the ``descriptor`` column of its deviation rows) as
    ``steps`` and ``vectors`` (float32) in ``path`` (.npz), written atomically."""
    from raygen.atomic import atomic_write

    col = devi.column(DESCRIPTOR_COLUMN).combine_chunks()
    vectors = col.flatten().to_numpy(zero_copy_only=False).reshape(len(col), -1)
    steps = devi.column("step").to_numpy()

    def write(tmp: str) -> None:
        with open(tmp, "wb") as fh:
            np.savez(fh, steps=steps, vectors=vectors.astype(np.float32))

    atomic_write(Path(path), write)


def read_descriptors(path) -> tuple[np.ndarray, np.ndarray]:
    """(steps, vectors) of :func:`write_descriptors`."""
    with np.load(path) as data:
        return data["steps"], data["vectors"]
