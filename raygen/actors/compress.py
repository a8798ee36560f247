"""``dp compress`` of the model that drives MD (``explore.compress``).

DeePMD-kit tabulates the embedding net of a compressed model, which makes each
MD step cheaper; DP-GEN offers it as ``dp_compress``. Only the first model drives
the dynamics, so only it is compressed (once per iteration, as a Ray task with the
trainer's resources); the deviations are still computed with every model as
trained. A model that deepmd-kit cannot compress (a descriptor it has no tables
for) is used as it is, and the log says why.
"""

from __future__ import annotations

import logging
import os
import subprocess
import time
from pathlib import Path
from typing import Optional

import ray

from raygen.actors.dp_server import WarmDP, die_with_parent
from raygen.actors.trainer import dp_command
from raygen.cluster import get, ray_options
from raygen.config.backend import dp_flag
from raygen.state import overhead
from raygen.state.context import RunContext
from raygen.state.workdir import compress_work_dir

log = logging.getLogger("raygen")


def compress_model(src: Path, dst: Path, backend: str, threads: int = 1,
                   runner: Optional[WarmDP] = None) -> tuple[Optional[str], float]:
    """``dp compress`` ``src`` into ``dst`` (published atomically, last); returns
    (None or the end of deepmd-kit's log on failure, seconds). ``runner``: a warm
    deepmd-kit (a lane's) to run it in, instead of a ``dp`` process of its own."""
    start = time.perf_counter()
    work = compress_work_dir(dst)
    work.mkdir(parents=True, exist_ok=True)
    tmp = work / dst.name
    args = [dp_flag(backend), "compress", "-i", str(Path(src).resolve()), "-o", tmp.name]
    (work / "compress.log").unlink(missing_ok=True)
    if runner is not None:
        code = runner.run(args, str(work), str(work / "compress.log"))
    else:
        env = {**os.environ, "OMP_NUM_THREADS": str(threads),
               "DP_INTRA_OP_PARALLELISM_THREADS": str(threads),
               "DP_INTER_OP_PARALLELISM_THREADS": str(threads)}
        with open(work / "compress.log", "w") as logf:
            code = subprocess.run([*dp_command(), *args], cwd=work, stdout=logf,
                                  stderr=subprocess.STDOUT, env=env,
                                  preexec_fn=die_with_parent).returncode
    if code != 0 or not tmp.exists():
        tail = (work / "compress.log").read_text().strip().splitlines()[-3:]
        return f"dp compress exited {code}: {' | '.join(tail)}", time.perf_counter() - start
    os.replace(tmp, dst)
    return None, time.perf_counter() - start


compress_task = ray.remote(compress_model)


def md_model(ctx: RunContext, ii: int) -> Path:
    """The model that drives iteration ``ii``'s MD: the first one, compressed when
    ``explore.compress`` is on and deepmd-kit can compress it."""
    src = ctx.rundir.graph(ii, 0, ctx.backend).resolve()
    if not ctx.cfg.explore.compress:
        return src
    dst = ctx.rundir.compressed_graph(ii, ctx.backend)
    if dst.exists():
        return dst.resolve()
    if ctx.lanes is not None:  # in a lane's warm deepmd-kit
        ref = ctx.lanes.take(1)[0].compress.remote(str(src), str(dst), ctx.backend)
    else:
        ref = compress_task.options(**ray_options(ctx.cfg.cluster.trainer)).remote(
            src, dst, ctx.backend, ctx.threads)
    error, seconds = get(ref)
    overhead.record(ctx.rundir.compute(ii), "make_model_devi", seconds, 1, seconds, 1)
    if error is not None:
        log.warning("iter %d: the MD runs with the uncompressed model (explore.compress): %s",
                    ii, error)
        return src
    log.info("iter %d: MD model compressed in %.1f s (%s)", ii, seconds, dst.name)
    return dst.resolve()
