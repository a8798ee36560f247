"""Errors a user reads: one line that says what failed, where its log is and what
to do. The command line prints them as ``raygen: ...`` without a traceback (the
traceback goes to ``raygen.log``)."""

from __future__ import annotations


class RunError(RuntimeError):
    """A run cannot go on (all MD tasks failed, a training crashed, a cluster
    cannot be reached, ...); finished work is kept."""
