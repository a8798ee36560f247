"""The deviation reducer's data path at scale: N synthetic frames streamed through
``deviation_table`` one trajectory at a time, the deviation rows streamed to Parquet.

    python bench/bench_reducer_stream.py [--frames 1000000] [--atoms 32] [--per-task 101]

The ensemble is synthetic (4 harmonic "models" with different spring constants that
answer ``eval`` as ``DeepPot`` does): deepmd-kit's inference, ~100 frames/s per core
(``bench_reducer.py``), would take hours for 1 M frames; what this measures is everything
around it — Arrow frame tables in, the deviation formulas, deviation rows out — and
that its memory stays bounded by one trajectory, not by the number of frames. Prints
frames/s and the peak RSS after 10 %, 50 % and 100 % of the frames.
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
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from raygen.actors.evaluator import deviation_table  # noqa: E402
from raygen.science.frames import DEVIATION_SCHEMA, frames_table  # noqa: E402

ROW_GROUP = 65536


class HarmonicModel:
    """A stand-in for ``DeepPot``: atoms on springs (constant ``k``) to ``ref``."""

    def __init__(self, ref: np.ndarray, k: float) -> None:
        self.ref, self.k = ref, k

    def eval(self, coords, cells, types):
        d = np.reshape(coords, (len(coords), -1, 3)) - self.ref
        forces = -self.k * d
        energy = 0.5 * self.k * np.einsum("fai,fai->f", d, d)[:, None]
        virial = -np.einsum("fai,faj->fij", d, forces).reshape(len(coords), 9)
        return energy, forces.reshape(len(coords), -1), virial


def trajectories(nframes: int, natoms: int, per_task: int, seed: int = 0):
    """Frame tables of ``per_task`` frames, made one at a time (as MD produces them)."""
    rng = np.random.default_rng(seed)
    ref = rng.uniform(0.0, 8.0, size=(natoms, 3))
    cell = np.eye(3) * 8.0
    types = np.zeros(natoms, dtype=np.int32)
    for k, lo in enumerate(range(0, nframes, per_task)):
        n = min(per_task, nframes - lo)
        pos = ref + rng.normal(scale=0.05, size=(n, natoms, 3))
        yield frames_table(f"task.000.{k:06d}", 0, np.arange(n) * 10,
                           np.repeat(cell[None], n, axis=0), pos, types)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def stream(nframes: int, natoms: int, per_task: int, out: Path) -> dict:
    """Reduce every trajectory, write the rows; returns frames, seconds, peak RSS marks."""
    ref = next(trajectories(1, natoms, 1))  # same seed: the same reference sites
    sites = np.reshape(ref.column("positions")[0].as_py(), (natoms, 3))
    models = [HarmonicModel(sites, k) for k in (1.0, 1.1, 0.9, 1.05)]
    marks, done, rows, pending, pending_rows = {}, 0, 0, [], 0
    start = time.perf_counter()
    with pq.ParquetWriter(out, DEVIATION_SCHEMA) as writer:
        for table in trajectories(nframes, natoms, per_task):
            devi = deviation_table(models, table, batch=200)
            pending.append(devi)
            pending_rows += devi.num_rows
            done += table.num_rows
            rows += devi.num_rows
            if pending_rows >= ROW_GROUP or done >= nframes:
                # row groups of ~64 k rows: Parquet keeps each group's metadata
                # until the file is closed, so one group per trajectory would grow
                writer.write_table(pa.concat_tables(pending))
                pending, pending_rows = [], 0
            for frac in (0.1, 0.5, 1.0):
                if frac not in marks and done >= frac * nframes:
                    marks[frac] = peak_rss_mb()
    seconds = time.perf_counter() - start
    return {"frames": done, "rows": rows, "seconds": seconds, "rss_mb": marks}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=1_000_000)
    ap.add_argument("--atoms", type=int, default=32)
    ap.add_argument("--per-task", type=int, default=101, help="frames per trajectory")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "deviations.parquet"
        r = stream(args.frames, args.atoms, args.per_task, out)
        assert pq.ParquetFile(out).metadata.num_rows == r["frames"]
        size_mb = out.stat().st_size / 2**20
    frame_mb = r["frames"] * (args.atoms * 3 + 9) * 8 / 2**20
    print(f"{r['frames']} frames of {args.atoms} atoms ({frame_mb:.0f} MiB of coordinates) "
          f"in {r['seconds']:.1f} s: {r['frames'] / r['seconds']:.0f} frames/s; "
          f"deviation rows {size_mb:.1f} MiB on disk")
    print("peak RSS MiB: " + ", ".join(f"{int(f * 100)} % {v:.0f}"
                                       for f, v in sorted(r["rss_mb"].items())))


if __name__ == "__main__":
    main()
