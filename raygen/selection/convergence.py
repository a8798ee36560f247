"""Stop rules, shaped like Ray Tune's stoppers: a callable per rule, OR-ed together.

Each rule is called with the summary of a finished iteration and answers whether
the current exploration *stage* is done. DP-GEN has no such check; its users ask
for one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Optional


@dataclass
class IterationStats:
    """What a rule sees of one finished iteration."""

    iteration: int
    stage: int
    accurate: int
    candidate: int
    failed: int

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


def stage_stopper(converge_accurate_ratio: Optional[float]) -> CombinedStopper:
    rules: Sequence = []
    if converge_accurate_ratio is not None:
        rules = [AccurateRatioConverged(converge_accurate_ratio)]
    return CombinedStopper(*rules)
