"""The property tests as the run's last step (``props.enabled``): the final ensemble
in ``models/`` against the run's own labeler, into ``<workdir>/props/``, on the run's
Ray cluster. A finished run whose ``props.json`` belongs to other models runs only
this again."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

from raygen.config.schema import RaygenConfig
from raygen.state.workdir import PROPS_SUMMARY, RunDir

log = logging.getLogger("raygen")


def final_models(cfg: RaygenConfig, rd: RunDir, backend: str) -> list[Path]:
    return [rd.final_graph(m, backend) for m in range(cfg.train.numb_models)]


def pending(cfg: RaygenConfig, rd: RunDir, backend: str) -> bool:
    """props.enabled and no props.json for exactly these final models."""
    if not cfg.props.enabled:
        return False
    from raygen.props.calculators import model_specs

    if not rd.props_record.exists():
        return True
    ids = json.loads(rd.props_record.read_text()).get("model_ids")
    return ids != [s.calc_id for s in model_specs(final_models(cfg, rd, backend))]


def run(cfg: RaygenConfig, rd: RunDir, backend: str) -> None:
    """Run them (Ray is up) and log the table."""
    from raygen.props.run import element_of, run_props
    from raygen.props.table import markdown

    t0 = time.perf_counter()
    rec = run_props(final_models(cfg, rd, backend), cfg.props, cfg.label,
                    element_of(cfg.props, list(cfg.type_map)), rd.props, ray_init=False)
    judged = [r for r in rec["table"] if r.get("pass") is not None]
    log.info("property tests of the final ensemble in %.0f s (%d points, %d cached): "
             "%d of %d within tolerance; %s\n%s", time.perf_counter() - t0,
             rec["points_computed"], rec["points_cached"],
             sum(1 for r in judged if r["pass"]), len(judged),
             rd.props / PROPS_SUMMARY, markdown(rec["table"]))
    for err in rec["errors"]:
        log.warning("property tests: %s", err)
