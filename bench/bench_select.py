"""Selection at scale: select_frames and DP-GEN's selection files on synthetic
deviation tables (log-uniform deviations), rows spread over systems and MD tasks.

    python bench/bench_select.py --rows 10000000 --systems 100 [--tasks-per-system 50] [--write]
    python bench/bench_select.py --rows 1000000 --systems 1 --pick fps   # 1 M candidates

``--pick fps``: every row a candidate (trust window 1e-3..10), each with a random
descriptor vector (raygen.science.descriptors.DIM numbers), picked by farthest-point
sampling; the uniform pick of the same rows is timed beside it.

Prints the wall time of building the table, selecting, writing the files
(--write), and the peak memory of the process (ru_maxrss) next to the table's own
size. No assertions: a benchmark, not a test.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa


def synthetic(rows: int, systems: int, tasks_per_system: int, seed: int = 0) -> pa.Table:
    from raygen.science.frames import DEVIATION_SCHEMA

    rng = np.random.default_rng(seed)
    n_tasks = systems * tasks_per_system
    task = rng.integers(0, n_tasks, rows)
    names = pa.array([f"task.{t // tasks_per_system:03d}.{t % tasks_per_system:06d}"
                      for t in range(n_tasks)])
    step = np.arange(rows, dtype=np.int64) * 10 // max(1, n_tasks)
    f = np.exp(rng.uniform(np.log(1e-3), np.log(1.0), rows))
    zeros = np.zeros(rows)
    cols = {"task_id": pa.DictionaryArray.from_arrays(pa.array(task.astype(np.int32)), names)
            .cast(pa.string()),
            "sys_idx": (task // tasks_per_system).astype(np.int32), "step": step,
            "max_devi_v": zeros, "min_devi_v": zeros, "avg_devi_v": zeros,
            "max_devi_f": f, "min_devi_f": f / 3, "avg_devi_f": f / 2, "devi_e": zeros}
    return pa.table(cols).select(DEVIATION_SCHEMA.names).cast(DEVIATION_SCHEMA)


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv: list[str] | None = None) -> None:
    from raygen.config.schema import SelectConfig
    from raygen.selection.select import select_frames, write_selection_files

    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--systems", type=int, default=40)
    ap.add_argument("--tasks-per-system", type=int, default=50)
    ap.add_argument("--write", action="store_true", help="also write the selection files")
    ap.add_argument("--pick", choices=("uniform", "fps"), default="uniform")
    args = ap.parse_args(argv)
    if args.pick == "fps":
        return bench_fps(args)
    t0 = time.perf_counter()
    table = synthetic(args.rows, args.systems, args.tasks_per_system)
    t1 = time.perf_counter()
    base = peak_mb()
    sel = select_frames(table, SelectConfig(fp_task_max=40), None, 0)
    t2 = time.perf_counter()
    print(f"{args.rows} rows, {args.systems} systems, {args.tasks_per_system} tasks each "
          f"(table {table.nbytes / 2**20:.0f} MiB, built in {t1 - t0:.1f} s)")
    print(f"select_frames: {t2 - t1:.2f} s, {sum(len(s.chosen) for s in sel.values())} "
          f"chosen; peak RSS {peak_mb():.0f} MiB ({peak_mb() - base:+.0f} MiB over the table)")
    if args.write:
        with tempfile.TemporaryDirectory() as d:
            write_selection_files(sel, lambda kind, s: Path(d) / f"{kind}.{s:03d}.out",
                                  lambda t: f"iter.000000/01.model_devi/{t}")
            t3 = time.perf_counter()
            size = sum(p.stat().st_size for p in Path(d).iterdir())
        print(f"selection files: {t3 - t2:.2f} s, {size / 2**20:.0f} MiB; "
              f"peak RSS {peak_mb():.0f} MiB")
    sys.stdout.flush()


def bench_fps(args) -> None:
    """select_frames with pick=fps over rows that are all candidates (and uniform, the
    same rows, for comparison)."""
    from raygen.config.schema import SelectConfig
    from raygen.science.descriptors import DIM
    from raygen.selection.select import select_frames

    table = synthetic(args.rows, args.systems, args.tasks_per_system)
    # each row's own step (so a frame's vector is found by its step), all candidates
    table = table.set_column(table.schema.get_field_index("step"), "step",
                             pa.array(np.arange(args.rows, dtype=np.int64)))
    vectors = np.random.default_rng(1).normal(0, 1, (args.rows, DIM)).astype(np.float32)
    base = peak_mb()

    def vectors_of(frames):
        return vectors[frames.steps]

    window = dict(f_trust_lo=1e-3, f_trust_hi=10.0, fp_task_max=40)
    t0 = time.perf_counter()
    uni = select_frames(table, SelectConfig(**window), None, 0)
    t1 = time.perf_counter()
    fps = select_frames(table, SelectConfig(pick="fps", **window), None, 0,
                        vectors_of=vectors_of)
    t2 = time.perf_counter()
    n_cand = sum(len(s.candidate) for s in fps.values())
    print(f"{args.rows} rows, {args.systems} systems: {n_cand} candidates with {DIM}-number "
          f"vectors ({vectors.nbytes / 2**20:.0f} MiB)")
    print(f"uniform pick: {t1 - t0:.2f} s; fps pick: {t2 - t1:.2f} s, "
          f"{sum(len(s.chosen) for s in fps.values())} chosen "
          f"({sum(len(s.chosen) for s in uni.values())} uniform); peak RSS {peak_mb():.0f} MiB "
          f"({peak_mb() - base:+.0f} MiB over table and vectors)")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
