"""DP-GEN's simplify rules (dpgen/simplify/simplify.py::post_model_devi), frame by frame."""

import numpy as np

from raygen.simplify.pick import (
    ACCURATE,
    CANDIDATE,
    FAILED,
    classify,
    pick_candidates,
    random_split,
)

OFF = (1e10, 1e10)


def test_force_levels_alone_as_dpgen_run_would():
    f = np.array([0.01, 0.05, 0.10, 0.1499, 0.15, 0.9])
    status = classify({"f": f, "e": np.zeros(6)}, {"f": (0.05, 0.15), "e": OFF})
    assert list(status) == [ACCURATE, CANDIDATE, CANDIDATE, CANDIDATE, FAILED, FAILED]


def test_energy_deviation_counts_too_and_failed_wins():
    f = np.array([0.01, 0.01, 0.10, 0.01])
    e = np.array([0.001, 0.02, 0.001, 0.5])
    status = classify({"f": f, "e": e}, {"f": (0.05, 0.15), "e": (0.01, 0.1)})
    # energy makes a candidate of an accurate force; a failed energy beats all
    assert list(status) == [ACCURATE, CANDIDATE, CANDIDATE, FAILED]


def test_true_errors_join_the_rules_and_nan_is_failed():
    values = {"f": np.array([0.01, 0.01, 0.01, np.nan]), "e": np.zeros(4),
              "f_err": np.array([0.01, 0.2, 0.5, 0.0]), "e_err": np.zeros(4)}
    levels = {"f": (0.05, 0.15), "e": OFF, "f_err": (0.1, 0.3), "e_err": OFF}
    assert list(classify(values, levels)) == [ACCURATE, CANDIDATE, FAILED, FAILED]


def test_the_pick_takes_candidates_only_and_rest_keeps_the_failed():
    status = np.array([CANDIDATE, ACCURATE, FAILED, CANDIDATE, CANDIDATE, FAILED], dtype=object)
    split = pick_candidates(status, 2, np.random.default_rng(0))
    assert len(split.picked) == 2 and set(split.picked) <= {0, 3, 4}
    assert sorted(np.concatenate([split.picked, split.rest, split.accurate])) == list(range(6))
    assert {2, 5} <= set(split.rest) and list(split.accurate) == [1]
    assert split.counts(status) == {FAILED: 2, CANDIDATE: 3, ACCURATE: 1, "picked": 2}
    # fewer candidates than asked for: all of them
    assert len(pick_candidates(status, 10, np.random.default_rng(0)).picked) == 3


def test_random_split_is_seeded_and_a_partition():
    a = random_split(50, 10, np.random.default_rng(3))
    b = random_split(50, 10, np.random.default_rng(3))
    assert all((x == y).all() for x, y in zip(a, b))
    assert sorted(np.concatenate(a)) == list(range(50)) and len(a[0]) == 10
