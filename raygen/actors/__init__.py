"""Ray actors and tasks: thin adapters around the science modules.

- :mod:`raygen.actors.trainer`   — trains one ensemble member (deepmd-kit) per call;
- :mod:`raygen.actors.explorer`  — runs MD tasks in a persistent in-process LAMMPS;
- :mod:`raygen.actors.evaluator` — the deviation reducer: ensemble inference on
  Arrow batches of frames;
- :mod:`raygen.actors.labeling`  — labelling as Ray CPU tasks (one per frame).
"""
