"""Orchestration state of a run: the run directory (:mod:`~raygen.state.workdir`, every
file name), the run context, the record and its resume point, the resume check, the
exploration schedule, the run lock and the overhead accounting. No Ray here."""
