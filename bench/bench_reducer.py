"""Deviation reducer against its limits, on the same frames, one thread each:

- raw: one ``DeepPot.eval`` per model over all frames of one size (the batched
  inference limit), plus the deviation formulas;
- reducer: what an Evaluator does, trajectory by trajectory (``deviation_table``);
- ``dp model-devi``: deepmd-kit's own command over the same frames written as
  deepmd/npy systems (process start and model loading included, as a user runs it),
  and its function ``make_model_devi`` in this process (model loading included).

    python bench/bench_reducer.py MODELS_DIR [--traj-dir ITER/01.model_devi] [--frames 600]

``--traj-dir`` takes the ``traj.parquet`` files of a run's exploration (the real
workload); without it the frames are perturbed 32-atom fcc Cu. Prints frames/s of
each and the ratios; the deviations of all three agree (checked, not only timed).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("DP_INTRA_OP_PARALLELISM_THREADS", "1")
os.environ.setdefault("DP_INTER_OP_PARALLELISM_THREADS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402
from ase.build import bulk  # noqa: E402

from raygen.actors.evaluator import deviation_table, load_models  # noqa: E402
from raygen.science.deviation import ensemble_deviation  # noqa: E402
from raygen.science.ensemble import predict  # noqa: E402
from raygen.science.frames import deviation_array, frames_table, table_arrays  # noqa: E402


def synthetic_tables(nframes: int, reps: int = 2, per_task: int = 101) -> list[pa.Table]:
    base = bulk("Cu", "fcc", a=3.6, cubic=True).repeat((reps,) * 3)
    rng = np.random.default_rng(0)
    pos = base.positions[None] + rng.normal(scale=0.1, size=(nframes, len(base), 3))
    cells = np.repeat(base.cell.array[None], nframes, axis=0)
    types = np.zeros(len(base), dtype=np.int64)
    return [frames_table(f"task.{lo:06d}", 0, np.arange(lo, min(lo + per_task, nframes)),
                         cells[lo:lo + per_task], pos[lo:lo + per_task], types)
            for lo in range(0, nframes, per_task)]


def raw_deviation(models, tables: list[pa.Table]) -> tuple[float, dict[str, np.ndarray]]:
    """Seconds of one eval per model per frame size, and each task's deviations."""
    by_size: dict[int, list] = {}
    for t in tables:
        cells, pos, types = table_arrays(t)
        by_size.setdefault(len(types), []).append((t, cells, pos, types))
    out = {}
    start = time.perf_counter()
    for group in by_size.values():
        cells = np.concatenate([g[1] for g in group])
        pos = np.concatenate([g[2] for g in group])
        # one batch of every frame: a single eval per model
        devi = ensemble_deviation(*predict(models, cells, pos, group[0][3], batch=len(pos)))
        lo = 0
        for t, *_ in group:
            out[t.column("task_id")[0].as_py()] = devi[lo:lo + t.num_rows]
            lo += t.num_rows
    return time.perf_counter() - start, out


def write_npy_systems(tables: list[pa.Table], root: Path, type_map: list[str]) -> None:
    """Each task's frames as a deepmd/npy system (what ``dp model-devi`` reads)."""
    for t in tables:
        cells, pos, types = table_arrays(t)
        d = root / t.column("task_id")[0].as_py()
        (d / "set.000").mkdir(parents=True)
        np.save(d / "set.000" / "coord.npy", pos.reshape(len(pos), -1))
        np.save(d / "set.000" / "box.npy", cells.reshape(len(cells), 9))
        (d / "type.raw").write_text("\n".join(map(str, types)) + "\n")
        (d / "type_map.raw").write_text("\n".join(type_map) + "\n")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("models", type=Path, help="folder with graph.*.pb")
    ap.add_argument("--traj-dir", type=Path, help="a run's 01.model_devi (traj.parquet files)")
    ap.add_argument("--frames", type=int, default=600, help="synthetic frames (no --traj-dir)")
    ap.add_argument("--batch", type=int, default=200, help="the reducer's deviation_batch")
    ap.add_argument("--no-dp", action="store_true", help="skip dp model-devi")
    args = ap.parse_args(argv)
    paths = [str(p) for p in sorted(args.models.glob("graph.[0-9][0-9][0-9].pb"))]
    models = load_models(paths)
    if args.traj_dir:
        files = sorted(args.traj_dir.glob("task.*/traj.parquet"))
        tables = [pq.read_table(f) for f in files]
    else:
        tables, files = synthetic_tables(args.frames), []
    nframes = sum(t.num_rows for t in tables)
    print(f"{len(models)} models, {len(tables)} trajectories, {nframes} frames, "
          f"atoms per frame {sorted({len(table_arrays(t)[2]) for t in tables})}, 1 thread")
    raw_deviation(models, [t.slice(0, 4) for t in tables[:1]])  # warm-up
    deviation_table(models, tables[0].slice(0, 4), args.batch)

    t_raw, raw = raw_deviation(models, tables)
    start = time.perf_counter()
    if files:  # as the evaluators do: read the trajectory, reduce it
        red = [deviation_table(models, pq.read_table(f), args.batch) for f in files]
    else:
        red = [deviation_table(models, t, args.batch) for t in tables]
    t_red = time.perf_counter() - start
    for r in red:
        np.testing.assert_allclose(deviation_array(r), raw[r.column("task_id")[0].as_py()],
                                   rtol=1e-6, atol=1e-9)
    rows = [("raw batched DeepPot.eval", t_raw), ("raygen reducer", t_red)]

    if not args.no_dp:
        type_map = models[0].get_type_map()
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            write_npy_systems(tables, root / "sys", type_map)
            from deepmd.infer.model_devi import make_model_devi

            start = time.perf_counter()
            make_model_devi(models=paths, system=str(root / "sys"), set_prefix="set",
                            output=str(root / "fn.out"), frequency=1)
            rows.append(("dp model-devi, function (model load incl.)",
                         time.perf_counter() - start))
            start = time.perf_counter()
            subprocess.run(["dp", "--tf", "model-devi", "-m", *paths, "-s", str(root / "sys"),
                            "-o", str(root / "cli.out")], check=True, capture_output=True,
                           env={**os.environ, "CUDA_VISIBLE_DEVICES": ""})
            rows.append(("dp model-devi, command (process start incl.)",
                         time.perf_counter() - start))
            # the command writes one table per system, rows in the order of its systems
            got = np.loadtxt(root / "cli.out", ndmin=2)
            assert len(got) == nframes, (len(got), nframes)
            want = np.concatenate([raw[t.column("task_id")[0].as_py()] for t in sorted(
                tables, key=lambda t: t.column("task_id")[0].as_py())])
            np.testing.assert_allclose(np.sort(got[:, 4]), np.sort(want[:, 3]), rtol=1e-4)

    print(f"{'method':48s} {'seconds':>8s} {'frames/s':>9s} {'vs raw':>7s}")
    for name, sec in rows:
        print(f"{name:48s} {sec:8.2f} {nframes / sec:9.1f} {t_raw / sec:7.2f}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
