"""The nine steps of an iteration, in one table: make/run/post of each phase.

The loop runs them in this order, ``record.raygen`` indexes them (line
``"ii jj"``: step ``jj`` of iteration ``ii`` is done; the names and phases are data in
:mod:`raygen.state.record`), the summary groups their wall times by phase, and the
final training reuses the train phase. Every step is a function ``(ctx, ii, job)``
over the run context; the steps share nothing but the context and the run directory.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Optional

from raygen.config.schema import ModelDeviJob
from raygen.state.context import RunContext
from raygen.state.record import STEP_NAMES, step_phase
from raygen.steps import explore, label, train

StepFn = Callable[[RunContext, int, Optional[ModelDeviJob]], Any]


@dataclass(frozen=True)
class Step:
    name: str
    phase: str
    run: StepFn


# each step's function is the one of its phase's module with the step's name
_MODULES = {"train": train, "model_devi": explore, "fp": label}

STEPS: tuple[Step, ...] = tuple(
    Step(name, step_phase(j), getattr(_MODULES[step_phase(j)], name))
    for j, name in enumerate(STEP_NAMES))
