"""Accuracy of a trained ensemble on labelled data it never saw.

Scores every model of an ensemble, and the ensemble mean, on any labelled data:
deepmd/npy folders (any folder holding ``type.raw`` below the given paths) or any
file dpdata reads as labelled (``--fmt vasp/outcar``, ``qe/pw/scf``,
``cp2k/output``, ...). One row per system, then all systems together::

    python -m raygen.report.holdout cu_run/models cu_holdout/*
    python -m raygen.report.holdout cu_run/models OUTCAR --fmt vasp/outcar

Columns: frames, energy RMSE (meV/atom) and force RMSE (eV/Å) of the ensemble
mean, the same for each model as mean ± spread over models, and the mean
``max_devi_f`` the ensemble itself reports on those frames (its own error bar).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from raygen.config.backend import frozen_models
from raygen.science.dataset import deepmd_systems
from raygen.science.deviation import ensemble_deviation
from raygen.science.ensemble import predict as ensemble_predict


@dataclass
class Score:
    """Errors of an ensemble on one set of frames."""

    frames: int
    e_rmse_meV_atom: float           # ensemble mean prediction
    f_rmse_eV_A: float
    e_rmse_per_model: list[float]    # meV/atom, one per model
    f_rmse_per_model: list[float]    # eV/Å, one per model
    mean_max_devi_f: float


def load_systems(paths: list[Path], fmt: Optional[str]) -> dict[str, object]:
    """Labelled systems by name: deepmd/npy folders below each path, or files
    read with dpdata's ``fmt``."""
    import dpdata

    systems: dict[str, object] = {}
    for path in paths:
        if fmt:
            systems[str(path)] = dpdata.LabeledSystem(str(path), fmt=fmt)
            continue
        found = deepmd_systems(path)
        if not found:
            raise ValueError(f"{path}: no deepmd/npy system (type.raw) below it; "
                             "give --fmt for other formats")
        for d in found:
            systems[str(d)] = dpdata.LabeledSystem(str(d), fmt="deepmd/npy")
    return systems


def predict(models: list, system, batch: int = 200) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Energies (M, F), forces (M, F, N, 3), virials (M, F, 9) of each model on a
    dpdata system (its elements mapped onto the models' type map)."""
    type_map = models[0].get_type_map()
    names = system["atom_names"]
    missing = [n for n in names if n not in type_map]
    if missing:
        raise ValueError(f"elements {missing} are not in the models' type map {type_map}")
    types = np.array([type_map.index(names[t]) for t in system["atom_types"]])
    nframes = system.get_nframes()
    return ensemble_predict(models, system["cells"].reshape(nframes, 3, 3),
                            system["coords"].reshape(nframes, -1, 3), types, batch)


def score(models: list, system) -> Score:
    e, f, v = predict(models, system)
    natoms = system.get_natoms()
    e_ref, f_ref = system["energies"], system["forces"]

    def rmse(x):
        return float(np.sqrt(np.mean(np.square(x))))

    return Score(
        frames=system.get_nframes(),
        e_rmse_meV_atom=1000 * rmse((e.mean(axis=0) - e_ref) / natoms),
        f_rmse_eV_A=rmse(f.mean(axis=0) - f_ref),
        e_rmse_per_model=[1000 * rmse((em - e_ref) / natoms) for em in e],
        f_rmse_per_model=[rmse(fm - f_ref) for fm in f],
        mean_max_devi_f=float(ensemble_deviation(e, f, v)[:, 3].mean()),
    )


def combine(scores: list[Score]) -> Score:
    """All systems together (RMSEs weighted by frames)."""
    w = np.array([s.frames for s in scores], dtype=float)

    def pool(vals):
        return float(np.sqrt(np.sum(w * np.square(vals)) / w.sum()))

    nm = len(scores[0].e_rmse_per_model)
    return Score(int(w.sum()), pool([s.e_rmse_meV_atom for s in scores]),
                 pool([s.f_rmse_eV_A for s in scores]),
                 [pool([s.e_rmse_per_model[m] for s in scores]) for m in range(nm)],
                 [pool([s.f_rmse_per_model[m] for s in scores]) for m in range(nm)],
                 float(np.sum(w * [s.mean_max_devi_f for s in scores]) / w.sum()))


def format_scores(rows: dict[str, Score]) -> str:
    head = (f"{'system':40s} {'frames':>6s} {'E meV/atom':>10s} {'F eV/Å':>8s} "
            f"{'E per model':>15s} {'F per model':>15s} {'<max_devi_f>':>12s}")
    lines = [head, "-" * len(head)]
    for name, s in rows.items():
        em, fm = np.array(s.e_rmse_per_model), np.array(s.f_rmse_per_model)
        lines.append(f"{name[-40:]:40s} {s.frames:6d} {s.e_rmse_meV_atom:10.2f} "
                     f"{s.f_rmse_eV_A:8.4f} {em.mean():8.2f}±{em.std():<6.2f} "
                     f"{fm.mean():8.4f}±{fm.std():<6.4f} {s.mean_max_devi_f:12.4f}")
    return "\n".join(lines)


@contextlib.contextmanager
def native_output_to_log():
    """TensorFlow's, absl's and deepmd-kit's banner lines (oneDNN, CPU features, a
    missing CUDA runtime, batch-size and thread hints: several dozen lines on a CPU
    machine) kept off the terminal: file descriptor 2 goes to a temporary file while
    deepmd-kit loads and evaluates, and that file is printed only if something fails
    there. Python's own messages and the scores (stdout) are not affected."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("DP_INFER_BATCH_SIZE", "1024")
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as tmp:
        os.dup2(tmp.fileno(), 2)
        try:
            yield tmp
        except BaseException:
            os.dup2(saved, 2)
            tmp.seek(0)
            sys.stderr.write(tmp.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def model_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    return frozen_models(path)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", type=Path, help="folder with graph.*.pb|pth (e.g. cu_run/models)")
    parser.add_argument("data", type=Path, nargs="+", help="labelled data (deepmd/npy folders, "
                        "or files with --fmt)")
    parser.add_argument("--fmt", default=None, help="dpdata format of the data files")
    parser.add_argument("--json", type=Path, default=None,
                        help="also write the scores as JSON (e.g. <workdir>/holdout.json, "
                             "which a sweep's comparison table reads)")
    args = parser.parse_args(argv)
    paths = model_files(args.models)
    if not paths:
        print(f"raygen: no graph.*.pb or graph.*.pth in {args.models}", file=sys.stderr)
        return 2
    try:
        systems = load_systems(args.data, args.fmt)
    except (ValueError, OSError) as err:
        print(f"raygen: {err}", file=sys.stderr)
        return 2
    with native_output_to_log() as captured:
        from deepmd.infer import DeepPot

        models = [DeepPot(str(p)) for p in paths]
        rows = {name: score(models, system) for name, system in systems.items()}
    del captured
    if len(rows) > 1:
        rows["all"] = combine(list(rows.values()))
    print(f"{len(models)} models from {args.models}")
    print(format_scores(rows))
    if args.json:
        import dataclasses
        import json

        args.json.write_text(json.dumps({k: dataclasses.asdict(v) for k, v in rows.items()},
                                        indent=1))
    return 0


if __name__ == "__main__":
    rc = main()
    if rc == 0:  # deepmd-kit's CUDA stubs print two more lines when the process unloads
        sys.stdout.flush()
        os.dup2(os.open(os.devnull, os.O_WRONLY), 2)
    sys.exit(rc)
