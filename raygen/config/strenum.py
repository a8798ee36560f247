"""Closed vocabularies of the config as string enums.

OmegaConf checks an Enum-typed field when the config is composed (a typo is an
error naming the key and the allowed values); the str mixin lets the members
compare, format and serialise as their plain values (``f"--{Backend.tf}"`` is
``--tf``).
"""

from __future__ import annotations

from enum import Enum


class StrEnum(str, Enum):
    """An Enum whose members are their string values (Python 3.10 has no StrEnum)."""

    def __str__(self) -> str:
        return str(self.value)

    def __format__(self, spec: str) -> str:
        return format(str(self.value), spec)


def vocabulary(name: str, values, module: str) -> type[StrEnum]:
    """A StrEnum whose member names are ``values`` (hyphens allowed: ``npt-iso``),
    picklable from ``module`` (Ray ships config objects to workers)."""
    return StrEnum(name, [(v, v) for v in values], module=module)  # type: ignore[return-value]
