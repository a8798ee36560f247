"""``python -m raygen.simplify``: DP-GEN's ``dpgen simplify`` on raygen's workers.

- :mod:`~raygen.simplify.pick`    DP-GEN's rules: failed / candidate / accurate, the picks
- :mod:`~raygen.simplify.dataset` the data set in (dpdata), frame tables, subsets out
- :mod:`~raygen.simplify.run`     the nine steps per iteration, resumable
"""
