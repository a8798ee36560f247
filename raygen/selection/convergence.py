"""Stop rules, shaped like Ray Tune's stoppers: a callable per rule, OR-ed together.

Each rule is called with the summary of a finished iteration and answers whether
the current exploration *stage* is done. DP-GEN has no such check; its users ask
for one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional


@dataclass
class IterationStats:
    """What a rule sees of one finished iteration (``f_lo_history``: the adapted lower
    force level of each system in each iteration of the stage so far, this one last)."""

    iteration: int
    stage: int
    accurate: int
    candidate: int
    failed: int
    f_lo_history: list[dict[str, float]] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.accurate + self.candidate + self.failed

    @property
    def accurate_ratio(self) -> float:
        return self.accurate / self.total if self.total else 0.0


class AccurateRatioConverged:
    """The stage has converged when its accurate ratio reaches ``threshold``.

    >>> AccurateRatioConverged(0.99)(IterationStats(3, 0, 995, 5, 0))
    True
    """

    def __init__(self, threshold: float) -> None:
        self.threshold = threshold

    def __call__(self, stats: IterationStats) -> bool:
        return stats.total > 0 and stats.accurate_ratio >= self.threshold

    def __repr__(self) -> str:
        return f"accurate ratio >= {self.threshold}"


class AdaptedLevelConverged:
    """dpgen2's ``adaptive-lower`` convergence: the stage has converged when the adapted
    lower force level (``select.adapt_trust_lo``) has stopped moving — over the last
    ``n_checked_steps`` iterations of the stage (this one included) every neighbour
    difference is below ``tolerance`` (eV/Å), for every system.

    >>> rule = AdaptedLevelConverged(3, 0.01)
    >>> rule(IterationStats(4, 0, 90, 10, 0, [{"0": .20}, {"0": .12}, {"0": .115}, {"0": .11}]))
    True
    """

    def __init__(self, n_checked_steps: int, tolerance: float) -> None:
        self.n, self.tolerance = int(n_checked_steps), float(tolerance)

    def __call__(self, stats: IterationStats) -> bool:
        last = stats.f_lo_history[-self.n:]
        if len(last) < self.n or not last[-1]:
            return False
        for system in last[-1]:
            values = [h.get(system) for h in last]
            if any(v is None for v in values):
                return False
            if any(abs(b - a) >= self.tolerance for a, b in zip(values, values[1:])):
                return False
        return True

    def __repr__(self) -> str:
        return (f"adapted f_trust_lo steady within {self.tolerance:g} eV/Å over "
                f"{self.n} iterations")


class CombinedStopper:
    """True when any of its rules is."""

    def __init__(self, *rules) -> None:
        self.rules = [r for r in rules if r is not None]

    def __call__(self, stats: IterationStats) -> bool:
        return any(rule(stats) for rule in self.rules)

    def which(self, stats: IterationStats) -> Optional[str]:
        for rule in self.rules:
            if rule(stats):
                return repr(rule)
        return None


def stage_stopper(converge_accurate_ratio: Optional[float],
                  level_steps: Optional[int] = None,
                  level_tolerance: float = 0.05) -> CombinedStopper:
    rules: list = []
    if converge_accurate_ratio is not None:
        rules.append(AccurateRatioConverged(converge_accurate_ratio))
    if level_steps is not None:
        rules.append(AdaptedLevelConverged(level_steps, level_tolerance))
    return CombinedStopper(*rules)
