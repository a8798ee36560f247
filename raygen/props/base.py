"""The property plug-in interface and its registry.

A property turns the relaxed ground-state crystal of one calculator into
independent calculations (:class:`~raygen.props.points.Point`) and reduces their
results. It is written as a generator: it yields a batch of points by name,
receives their results, may yield another batch (EOS: relax each phase, then
scan its volumes), and returns what it found::

    def run(self, ctx):
        res = yield {"v0": Point(...), "v1": Point(...)}
        return Found(scalars={"eos.B0_GPa": ...}, curves={...})

The runner evaluates the batches of every property and every calculator at
once as Ray tasks, so the order of the yields is the only sequencing there is.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any

from ase import Atoms

from raygen.props.points import Point, PointResult

EV_A3_TO_GPA = 160.21766208
EV_A2_TO_J_M2 = 16.021766208


@dataclass
class Found:
    """What a property found: named scalars (units in the names), curves for the
    plots (x, y and their names), and notes (e.g. an interstitial that left its site)."""

    scalars: dict[str, float] = field(default_factory=dict)
    curves: dict[str, dict[str, Any]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


@dataclass
class Context:
    """What every property starts from: the element, the settings, and the ground
    state relaxed by this calculator."""

    element: str
    crystal: str
    bulk: Atoms  # relaxed ground-state cell (conventional for cubic crystals)
    e_atom: float  # its energy per atom, eV
    cfg: Any  # PropsConfig


Run = Generator[dict[str, Point], dict[str, PointResult], Found]


class Property:
    name = ""
    crystals: tuple[str, ...] = ()  # ground crystals it is defined for (empty: any)

    def problems(self, cfg, crystal: str) -> list[str]:
        """What is wrong with the settings for this property, before any calculation."""
        if self.crystals and crystal not in self.crystals:
            return [f"props.properties: {self.name} is defined for a "
                    f"{'/'.join(self.crystals)} ground state, not {crystal}"]
        return []

    def run(self, ctx: Context) -> Run:
        raise NotImplementedError


PROPERTIES: dict[str, type[Property]] = {}


def register(cls: type[Property]) -> type[Property]:
    PROPERTIES[cls.name] = cls
    return cls
