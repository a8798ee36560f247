"""First-principles (and reference) labelers, one module per code.

The registry is :data:`raygen.config.plugins.LABELERS`; the interface is
:mod:`raygen.labelers.base`.
"""

from __future__ import annotations

from raygen.config.plugins import LABELERS, load
from raygen.labelers.base import TRANSIENT, Labeler, LabelOutcome, LabelStatus, TransientLabelError


def labeler_class(name: str) -> type[Labeler]:
    return load(LABELERS, name, "labeler")


def make_labeler(cfg) -> Labeler:
    """The labeler that ``cfg.name`` names (``label=<name>`` on the command line)."""
    return labeler_class(cfg.name)(cfg)


__all__ = ["TRANSIENT", "Labeler", "LabelOutcome", "LabelStatus", "TransientLabelError",
           "labeler_class", "make_labeler"]
