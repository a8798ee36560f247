"""Exploration engines: MD codes behind one interface (:mod:`raygen.engines.base`),
registered by name in :mod:`raygen.config.plugins`."""

from __future__ import annotations

from raygen.engines.base import ExplorationEngine


def make_engine(cfg, type_map: list[str]) -> ExplorationEngine:
    """The engine that ``cfg.engine`` names (``explore=<name>`` on the command line)."""
    from raygen.config.plugins import ENGINES, load

    return load(ENGINES, cfg.engine, "exploration engine")(cfg, list(type_map))


__all__ = ["ExplorationEngine", "make_engine"]
