"""Trust levels: scalar, per system, or per exploration job (DP-GEN semantics).

A level in the config is a number (all systems) or a list indexed by ``sys_idx``;
a job's own ``f_trust_lo``/... override the ``select`` group for that job. Virial
levels are off (infinite) when null, as in DP-GEN.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class TrustLevels:
    f_lo: float
    f_hi: float
    v_lo: float = math.inf
    v_hi: float = math.inf


def level_for(value: Any, sys_idx: int, key: str, default: float = math.inf) -> float:
    """The level ``value`` gives system ``sys_idx`` (``key`` names it in errors)."""
    if value is None:
        return default
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, Sequence) and not isinstance(value, str):
        if sys_idx >= len(value):
            raise ValueError(f"{key}: has {len(value)} per-system values, "
                             f"system {sys_idx} has none")
        item = value[sys_idx]
        return default if item is None else float(item)
    raise ValueError(f"{key}: expected a number or a list of numbers, got {value!r}")


def resolve_levels(select, job, sys_idx: int) -> TrustLevels:
    """Levels of ``sys_idx`` in ``job``: the job's own, else the select group's."""
    vals = {}
    for name in ("f_trust_lo", "f_trust_hi", "v_trust_lo", "v_trust_hi"):
        own = getattr(job, name, None) if job is not None else None
        if own is not None:
            vals[name] = level_for(own, sys_idx, f"explore.jobs[].{name}")
        else:
            vals[name] = level_for(getattr(select, name), sys_idx, f"select.{name}")
    return TrustLevels(vals["f_trust_lo"], vals["f_trust_hi"],
                       vals["v_trust_lo"], vals["v_trust_hi"])
