"""``dp compress`` of the model that drives MD (``explore.compress``).

DeePMD-kit tabulates the embedding net of a compressed model, which makes each
MD step cheaper; DP-GEN offers it as ``dp_compress``. Only the first model drives
the dynamics, so only it is compressed (once per iteration, by a trainer of the
step's pool: a lane, or a Trainer actor with the trainer's resources); the
deviations are still computed with every model as trained. A descriptor deepmd-kit
has no tables for (DPA-2's repformers, DPA-3) is not sent to ``dp compress``: the MD
runs with the model as trained and the log says so; a model ``dp compress`` fails on
is used as it is, with deepmd-kit's reason in the log.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from raygen.actors.pool import step_pools
from raygen.cluster import get
from raygen.config.backend import cannot_compress
from raygen.state import overhead
from raygen.state.context import RunContext

log = logging.getLogger("raygen")


def md_model(ctx: RunContext, ii: int) -> Path:
    """The model that drives iteration ``ii``'s MD: the first one, compressed when
    ``explore.compress`` is on and deepmd-kit can compress it."""
    src = ctx.rundir.graph(ii, 0, ctx.backend).resolve()
    if not ctx.cfg.explore.compress:
        return src
    dst = ctx.rundir.compressed_graph(ii, ctx.backend)
    if dst.exists():
        return dst.resolve()
    inp = ctx.rundir.train_input(ii, 0)  # the model as trained (a fine-tuned one: the
    # pre-trained architecture, see train.finetune)
    unsupported = cannot_compress(json.loads(inp.read_text()) if inp.exists()
                                  else ctx.cfg.train.input)
    if unsupported:
        log.info("iter %d: the MD runs with the model as trained (explore.compress): "
                 "deepmd-kit cannot compress the %s descriptor", ii, ", ".join(unsupported))
        return src
    (pool,) = step_pools(ctx, ("trainer",))  # a trainer's warm deepmd-kit runs it
    try:
        error, seconds = get(pool.take(1)[0].compress.remote(str(src), str(dst), ctx.backend))
    finally:
        pool.close()
    overhead.record(ctx.rundir.compute(ii), "make_model_devi", seconds, 1, seconds, 1)
    if error is not None:
        log.warning("iter %d: the MD runs with the uncompressed model (explore.compress): %s",
                    ii, error)
        return src
    log.info("iter %d: MD model compressed in %.1f s (%s)", ii, seconds, dst.name)
    return dst.resolve()
