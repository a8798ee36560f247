"""The nine steps of an iteration, in one table: make/run/post of each phase.

The loop runs them in this order, ``record.raygen`` indexes them (line
``"ii jj"``: step ``jj`` of iteration ``ii`` is done), the summary groups their wall
times by phase, and the final training reuses the train phase. Every step is a
function ``(ctx, ii, job)`` over the run context; the steps share nothing but the
context and the run directory.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Optional

from raygen import explore_step, label_step, train_step
from raygen.config import ModelDeviJob
from raygen.context import RunContext

StepFn = Callable[[RunContext, int, Optional[ModelDeviJob]], Any]


@dataclass(frozen=True)
class Step:
    name: str
    phase: str
    run: StepFn


# DP-GEN's names for the three phases (its folders 00.train, 01.model_devi, 02.fp)
PHASES = ("train", "model_devi", "fp")

STEPS: tuple[Step, ...] = (
    Step("make_train", "train", train_step.make_train),
    Step("run_train", "train", train_step.run_train),
    Step("post_train", "train", train_step.post_train),
    Step("make_model_devi", "model_devi", explore_step.make_model_devi),
    Step("run_model_devi", "model_devi", explore_step.run_model_devi),
    Step("post_model_devi", "model_devi", explore_step.post_model_devi),
    Step("make_fp", "fp", label_step.make_fp),
    Step("run_fp", "fp", label_step.run_fp),
    Step("post_fp", "fp", label_step.post_fp),
)


def phase_steps(phase: str) -> list[int]:
    """Indices (in STEPS and in the record) of the steps of ``phase``."""
    return [j for j, s in enumerate(STEPS) if s.phase == phase]


def phase_seconds(timings: dict[str, float]) -> dict[str, float]:
    """Wall time of each phase from per-step timings."""
    return {p: sum(timings.get(STEPS[j].name, 0.0) for j in phase_steps(p)) for p in PHASES}
