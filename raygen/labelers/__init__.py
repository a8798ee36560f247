"""First-principles (and reference) labelers, one module per code."""

from __future__ import annotations

from raygen.labelers.base import Labeler, LabelOutcome, LabelStatus, TransientLabelError
from raygen.labelers.emt import EmtLabeler

LABELERS: dict[str, type[Labeler]] = {
    "emt": EmtLabeler,
}


def make_labeler(cfg) -> Labeler:
    """The labeler that ``cfg.name`` names (``label=<name>`` on the command line)."""
    try:
        cls = LABELERS[cfg.name]
    except KeyError:
        raise ValueError(f"label.name: unknown labeler {cfg.name!r}; "
                         f"known: {', '.join(sorted(LABELERS))}") from None
    return cls(cfg)


__all__ = ["LABELERS", "Labeler", "LabelOutcome", "LabelStatus", "TransientLabelError",
           "make_labeler"]
