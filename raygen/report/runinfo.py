"""What a run directory holds so far, read without touching it: where the run is,
each iteration's summary, its model deviations, the learning curves, the
property tests. Works on a finished run and on one still going."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import numpy as np

from raygen.config.backend import frozen_models
from raygen.state.workdir import RunDir


@dataclass
class RunInfo:
    root: Path
    status: str                       # one line: finished / running at ... / stopped at ...
    summaries: list[dict] = field(default_factory=list)
    trust: dict[int, tuple[float, float]] = field(default_factory=dict)
    deviations: dict[int, np.ndarray] = field(default_factory=dict)  # max_devi_f per frame
    lcurves: dict[int, dict[int, dict[str, np.ndarray]]] = field(default_factory=dict)
    props: Optional[dict[str, Any]] = None
    # per iteration: frames per (system, T, P); the ensemble on its new labels
    by_condition: dict[int, list[dict]] = field(default_factory=dict)
    trust_checks: dict[int, list[dict]] = field(default_factory=dict)
    init_frames: int = 0
    system_names: list[str] = field(default_factory=list)


def _config(rd: RunDir) -> dict:
    if not rd.config.exists():
        return {}
    import yaml

    return yaml.safe_load(rd.config.read_text()) or {}


def read_lcurve(path: Path) -> dict[str, np.ndarray]:
    """DeePMD-kit's lcurve.out as columns by name (a partly written file: the rows so far)."""
    lines = path.read_text().splitlines()
    header = next((ln for ln in lines if ln.startswith("#") and "step" in ln), None)
    if header is None:
        return {}
    names = header.lstrip("#").split()
    rows = []
    for ln in lines:
        if ln.startswith("#") or not ln.strip():
            continue
        parts = ln.split()
        if len(parts) == len(names):
            try:
                rows.append([float(x) for x in parts])
            except ValueError:
                continue
    if not rows:
        return {}
    arr = np.array(rows)
    return {n: arr[:, k] for k, n in enumerate(names)}


def _frames_below(root: Path) -> int:
    """Labelled frames of the deepmd/npy systems below ``root`` (by their boxes)."""
    total = 0
    for box in Path(root).glob("data.*/**/set.*/box.npy"):
        if ".damaged." not in str(box):
            total += np.load(box, mmap_mode="r").shape[0]
    return total


def status_of(rd: RunDir, cfg: dict) -> str:
    from raygen.state.lock import RunLock
    from raygen.state.record import STEP_NAMES, last_record

    n_models = int(cfg.get("train", {}).get("numb_models", 4) or 4)
    live = RunLock(rd.root).is_held()
    last = last_record(rd.record, len(STEP_NAMES)) if rd.record.exists() else None
    where = "before its first step" if last is None else \
        f"iteration {last[0]}, after step {last[1]} ({STEP_NAMES[last[1]]})"
    models = frozen_models(rd.models) if rd.models.exists() else []
    if len(models) >= n_models and not live:
        return "finished: final models in models/"
    return f"{'running' if live else 'stopped'} at {where}"


def read_run(root: Path) -> RunInfo:
    rd = RunDir(Path(root))
    if not rd.root.is_dir():
        raise ValueError(f"{root}: no such run directory")
    if not rd.config.exists() and not rd.record.exists():
        raise ValueError(f"{root}: not a raygen run directory (no raygen.yaml or record.raygen)")
    cfg = _config(rd)
    info = RunInfo(root=rd.root, status=status_of(rd, cfg))
    sel = cfg.get("select", {})
    default_trust = (sel.get("f_trust_lo"), sel.get("f_trust_hi"))
    ii = 0
    while rd.iter(ii).exists():
        if rd.summary(ii).exists():
            s = json.loads(rd.summary(ii).read_text())
            info.summaries.append(s)
            systems = s.get("systems") or {}
            first = next(iter(systems.values()), {})
            lo_hi = first.get("f_trust") or default_trust
            if lo_hi[0] is not None:
                info.trust[ii] = (float(lo_hi[0]), float(lo_hi[1] or np.inf))
        elif default_trust[0] is not None:
            info.trust[ii] = (float(default_trust[0]), float(default_trust[1] or np.inf))
        table = rd.iter(ii) / "01.model_devi" / "model_devi.parquet"
        if table.exists():
            import pyarrow.parquet as pq

            info.deviations[ii] = pq.read_table(table, columns=["max_devi_f"])[
                "max_devi_f"].to_numpy()
        curves = {}
        for lc in sorted((rd.iter(ii) / "00.train").glob("[0-9][0-9][0-9]/lcurve.out")):
            data = read_lcurve(lc)
            if data:
                curves[int(lc.parent.name)] = data
        if curves:
            info.lcurves[ii] = curves
        for path, into in ((rd.by_condition(ii), info.by_condition),
                           (rd.trust_check(ii), info.trust_checks)):
            if path.exists():
                into[ii] = json.loads(path.read_text())
        ii += 1
    info.system_names = [str(x.get("name", k)) for k, x in enumerate(cfg.get("systems") or [])]
    info.init_frames = _frames_below(rd.init) if rd.init.exists() else 0
    props = rd.props_record
    if props.exists():
        info.props = json.loads(props.read_text())
    return info
