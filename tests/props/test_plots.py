"""The ensemble band of the property plots keeps every model's own curve."""

import numpy as np

from raygen.props.plots import ensemble_band


def test_models_on_different_grids_are_not_flattened_onto_the_first():
    # two EOS sampled around different equilibria (models that disagree, as on sc)
    a = {"x": np.linspace(10, 12, 7), "y": (np.linspace(10, 12, 7) - 11) ** 2}
    b = {"x": np.linspace(13, 15, 7), "y": 2 * np.linspace(13, 15, 7) - 20}
    x, lo, hi, mean, n = ensemble_band([a, b])
    assert x[0] == 10 and x[-1] == 15  # the grid spans both models
    inside_b = (x >= 13) & (x <= 15)
    # where only b is defined, the band is b itself, not a's last value held flat
    assert np.allclose(lo[inside_b], 2 * x[inside_b] - 20)
    assert np.allclose(hi[inside_b], lo[inside_b])
    assert np.all(n[inside_b] == 1) and np.all(n[(x > 12) & (x < 13)] == 0)
    assert np.isnan(lo[(x > 12) & (x < 13)]).all()


def test_overlapping_models_give_their_spread():
    xs = np.linspace(10, 12, 9)
    models = [{"x": xs, "y": xs * 0 + k} for k in (1.0, 2.0, 4.0)]
    models[1] = {"x": xs[::-1], "y": models[1]["y"]}  # order of points does not matter
    x, lo, hi, mean, n = ensemble_band(models)
    assert np.allclose(lo, 1) and np.allclose(hi, 4) and np.allclose(mean, 7 / 3)
    assert np.all(n == 3)
