"""Property tests of a trained ensemble against its reference, as the DP-GEN paper
validates its Cu model (Table I/II): equilibrium state, EOS of many phases,
elastic constants, vacancy, self-interstitials, surfaces, (111) stacking faults,
phonons. ``python -m raygen.props <run or models dir>``; see README "Property tests".
"""

from __future__ import annotations


def load_plugins() -> None:
    """Import the modules that register the properties (raygen.props.base.PROPERTIES)."""
    from raygen.props import bulk, defects, phonon  # noqa: F401
