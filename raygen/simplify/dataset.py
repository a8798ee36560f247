"""The data set simplify picks from: dpdata systems in, Arrow frame tables out, and the
picked / rest / accurate subsets written back as deepmd/npy (DP-GEN's ``data.picked``,
``data.rest``, ``data.accurate``)."""

from __future__ import annotations

from pathlib import Path

import dpdata
import numpy as np
import pyarrow as pa

from raygen.atomic import replace_dir
from raygen.science.dataset import deepmd_systems, system_paths
from raygen.science.frames import frames_table, with_labels


def load(patterns: list[str], type_map: list[str], labeled: bool) -> dpdata.MultiSystems:
    """The data set as one MultiSystems (systems of one composition merged, as dpdata
    and DP-GEN do), in ``type_map``'s types."""
    cls = dpdata.LabeledSystem if labeled else dpdata.System
    return dpdata.MultiSystems(
        *[cls(p, fmt="deepmd/hdf5" if "#" in p else "deepmd/npy") for p in
          system_paths(patterns)], type_map=list(type_map))


def read_subset(path: Path, type_map: list[str], labeled: bool) -> dpdata.MultiSystems:
    """A subset written by :func:`write_subset` (empty when it holds no system)."""
    multi = dpdata.MultiSystems(type_map=list(type_map))
    if any(deepmd_systems(path)):
        multi.from_deepmd_npy(str(path), labeled=labeled)
    return multi


def frame_index(multi: dpdata.MultiSystems) -> list[tuple[str, int]]:
    """(system name, frame) of every frame, in a fixed order."""
    return [(name, k) for name in sorted(multi.systems) for k in range(len(multi[name]))]


def write_subset(multi: dpdata.MultiSystems, frames: list[tuple[str, int]],
                 path: Path) -> int:
    """``frames`` of ``multi`` as deepmd/npy in ``path`` (replaced atomically; an
    empty folder when there are none). Returns the frame count."""
    by_system: dict[str, list[int]] = {}
    for name, k in frames:
        by_system.setdefault(name, []).append(k)
    subset = dpdata.MultiSystems(type_map=multi.atom_names)
    for name, idx in by_system.items():
        subset.append(multi[name].sub_system(idx))

    def fill(tmp: Path) -> None:
        if frames:
            subset.to_deepmd_npy(str(tmp), set_size=len(frames))

    replace_dir(path, fill)
    return len(frames)


def frames_of(multi: dpdata.MultiSystems, type_map: list[str], labeled: bool) -> pa.Table:
    """Every frame as raygen's Arrow frame table: ``task_id`` the system's name,
    ``sys_idx`` its position, ``step`` the frame; with ``labeled``, the labels too."""
    tables = []
    names = sorted(multi.systems)
    virials = all("virials" in multi[n].data for n in names)
    for i, name in enumerate(names):
        s = multi[name]
        types = np.array([type_map.index(s["atom_names"][t]) for t in s["atom_types"]],
                         dtype=np.int32)
        t = frames_table(name, i, np.arange(len(s)), s["cells"], s["coords"], types)
        if labeled:
            t = with_labels(t, s["energies"], s["forces"],
                            s["virials"].reshape(len(s), 9) if virials else None)
        tables.append(t)
    return pa.concat_tables(tables) if tables else pa.table({})
