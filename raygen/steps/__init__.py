"""The steps of an iteration and around it (the layer the loop drives).

- :mod:`~raygen.steps.table`       the nine make/run/post steps, in order
- :mod:`~raygen.steps.prepare`     before iteration 0: systems, starting confs, initial data
- :mod:`~raygen.steps.train`       00.train (DP-GEN's make/run/post_train)
- :mod:`~raygen.steps.explore`     01.model_devi: MD tasks and the deviation reducer
- :mod:`~raygen.steps.label`       02.fp: selection, labelling tasks, data.%03d
- :mod:`~raygen.steps.late_labels` labels still running when their iteration moved on
- :mod:`~raygen.steps.final_train` the production training after the last iteration

Steps import the layers below (state, science, selection, actors, engines, labelers),
never the loop, and never each other except through late_labels / the train phase.
"""
