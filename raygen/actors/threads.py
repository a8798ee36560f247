"""Thread settings of a worker process, applied before TensorFlow is imported."""

from __future__ import annotations

import os


def set_threads(n: int) -> None:
    """One process, ``n`` threads: OpenMP, TensorFlow intra/inter op (deepmd-kit)."""
    n = max(1, int(n))
    for var in ("OMP_NUM_THREADS", "DP_INTRA_OP_PARALLELISM_THREADS",
                "TF_INTRA_OP_PARALLELISM_THREADS"):
        os.environ[var] = str(n)
    os.environ["DP_INTER_OP_PARALLELISM_THREADS"] = "1"
    os.environ["TF_INTER_OP_PARALLELISM_THREADS"] = "1"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
