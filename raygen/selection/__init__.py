"""Selection of frames for labelling: DP-GEN's rules as plain functions.

- :mod:`~raygen.selection.trust`       trust levels (scalar / per system / per job)
- :mod:`~raygen.selection.classify`    accurate / candidate / failed
- :mod:`~raygen.selection.budget`      fp_task_max throttle, fp_task_min, seeded picking
- :mod:`~raygen.selection.select`      one iteration's selection + DP-GEN's files
- :mod:`~raygen.selection.convergence` stop rules for exploration stages
"""
