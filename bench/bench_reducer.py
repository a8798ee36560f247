"""Deviation reducer throughput: frames/s of one Evaluator (N models, 1 thread).

    python bench/bench_reducer.py cu_run/models [--frames 1000] [--atoms 32]

Frames are perturbed fcc Cu; prints frames/s for several batch sizes.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("DP_INTRA_OP_PARALLELISM_THREADS", "1")
os.environ.setdefault("DP_INTER_OP_PARALLELISM_THREADS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
from ase.build import bulk  # noqa: E402

from raygen.actors.evaluator import deviation_table, load_models  # noqa: E402
from raygen.frames import frames_table  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("models", type=Path)
    ap.add_argument("--frames", type=int, default=1000)
    ap.add_argument("--reps", type=int, default=2, help="supercell repeat (2: 32 atoms)")
    args = ap.parse_args()
    models = load_models([str(p) for p in sorted(args.models.glob("graph.*.pb"))])
    base = bulk("Cu", "fcc", a=3.6, cubic=True).repeat((args.reps,) * 3)
    rng = np.random.default_rng(0)
    pos = base.positions[None] + rng.normal(scale=0.1, size=(args.frames, len(base), 3))
    cells = np.repeat(base.cell.array[None], args.frames, axis=0)
    table = frames_table("bench", 0, np.arange(args.frames), cells, pos, np.zeros(len(base)))
    deviation_table(models, table.slice(0, 10), 10)  # warm-up
    print(f"{len(models)} models, {len(base)} atoms, {args.frames} frames")
    for batch in (1, 10, 50, 200, 1000):
        start = time.perf_counter()
        deviation_table(models, table, batch)
        dt = time.perf_counter() - start
        print(f"batch {batch:5d}: {args.frames / dt:8.1f} frames/s")


if __name__ == "__main__":
    main()
