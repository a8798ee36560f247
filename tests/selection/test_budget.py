import numpy as np

from raygen.selection.budget import fp_task_budget, number_to_label, pick


def test_budget_full_below_soft_threshold():
    assert fp_task_budget(0.5, 100, 0.99, 0.9) == 100


def test_budget_decays_linearly_between_thresholds():
    # DP-GEN: int(max * (ratio - hard) / (soft - hard))
    assert fp_task_budget(0.9, 100, 1.0, 0.8) == 50
    assert fp_task_budget(0.85, 100, 1.0, 0.8) == 75
    assert fp_task_budget(0.8, 100, 1.0, 0.8) == 100


def test_budget_zero_at_hard_threshold():
    assert fp_task_budget(0.99, 100, 0.99, 0.9) == 0
    assert fp_task_budget(1.0, 100, 0.99) == 0


def test_default_thresholds_never_throttle_below_one():
    assert fp_task_budget(0.999, 7) == 7


def test_fp_task_min_suppresses_small_batches():
    assert number_to_label(3, 10, fp_task_min=5) == 0
    assert number_to_label(30, 10, fp_task_min=5) == 10
    assert number_to_label(6, 10, fp_task_min=5) == 6


def test_pick_is_seeded_and_a_permutation():
    items = [("t", i) for i in range(50)]
    a, shuffled_a = pick(items, 5, np.random.default_rng([0, 1, 2]))
    b, _ = pick(items, 5, np.random.default_rng([0, 1, 2]))
    c, _ = pick(items, 5, np.random.default_rng([0, 1, 3]))
    assert a == b and a != c
    assert sorted(shuffled_a) == items and a == shuffled_a[:5]
