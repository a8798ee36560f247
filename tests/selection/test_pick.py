"""dpgen2's inverse-population pick: candidates weighted by 1 / their deviation bin's
count, drawn without repeats; the rare deviations get labelled too."""

import numpy as np

from raygen.config.schema import SelectConfig
from raygen.selection.budget import pick, pick_inverse_population
from raygen.selection.select import select_frames
from tests.selection.test_adaptive import force_table


def crowded():
    """90 candidates just above lo, 10 spread over the rest of [lo, hi)."""
    rng = np.random.default_rng(1)
    common = rng.uniform(0.050, 0.060, 90)
    rare = np.linspace(0.08, 0.19, 10)
    return np.concatenate([common, rare])


def test_rare_deviations_are_picked_where_uniform_picking_misses_them():
    values = crowded()
    items = list(range(len(values)))
    for seed in range(5):
        chosen, _ = pick_inverse_population(items, values, 0.05, 0.20, 20,
                                            np.random.default_rng(seed))
        assert sum(c >= 90 for c in chosen) >= 9
        uniform, _ = pick(items, 20, np.random.default_rng(seed))
        assert sum(c >= 90 for c in uniform) <= 6


def test_no_repeats_chosen_first_and_reproducible():
    values = crowded()
    items = list(range(len(values)))
    chosen, shuffled = pick_inverse_population(items, values, 0.05, 0.20, 30,
                                               np.random.default_rng(3))
    assert len(set(chosen)) == 30 and shuffled[:30] == chosen
    assert sorted(shuffled) == items
    again, _ = pick_inverse_population(items, values, 0.05, 0.20, 30, np.random.default_rng(3))
    assert again == chosen
    assert pick_inverse_population(items, values, 0.05, 0.20, 500,
                                   np.random.default_rng(3))[0].__len__() == 100


def test_one_key_chooses_it_in_a_run_selection():
    values = crowded()
    rows = [("task.000.000000", 0, 10 * k, float(d)) for k, d in enumerate(values)]
    rows += [("task.000.000001", 0, 10 * k, 0.01) for k in range(20)]  # accurate
    uniform = select_frames(force_table(rows), SelectConfig(fp_task_max=20), None, 0)[0]
    inv = select_frames(force_table(rows), SelectConfig(fp_task_max=20, pick="inv_pop_f"),
                        None, 0)[0]
    assert uniform.counts == inv.counts  # the same classes; only the draw differs
    rare = {("task.000.000000", 10 * k) for k in range(90, 100)}
    assert len(rare & set(inv.chosen)) > len(rare & set(uniform.chosen))
