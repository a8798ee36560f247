"""Typed results that cross actor boundaries (as ``LabelOutcome`` does for labels)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional


@dataclass(frozen=True)
class TrainResult:
    """One trained ensemble member."""

    member: int
    train_s: float
    total_s: float
    lcurve: dict[str, float] = field(default_factory=dict)
    compute_s: float = 0.0  # deepmd-kit's own training time (raygen.state.overhead)

    def rmse_text(self) -> str:
        return " ".join(f"{k}={v:.3g}" for k, v in self.lcurve.items()
                        if k in ("rmse_e_trn", "rmse_f_trn", "rmse_v_trn"))


@dataclass(frozen=True)
class MDResult:
    """One MD task; its frames travel separately (an Arrow table in the object store)."""

    task_id: str
    frames: int
    wall_s: float
    error: Optional[str] = None
    cached: bool = False
    pid: int = 0
