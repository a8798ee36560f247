import numpy as np

from raygen.science.deviation import (
    MODEL_DEVI_HEADER,
    ensemble_deviation,
    format_model_devi,
    read_model_devi,
    write_model_devi,
)


def naive_deviation(e, f, v):
    """The definition, written out: per-atom force spread over models, etc."""
    natoms = f.shape[2]
    spread = np.sqrt(np.mean(np.sum((f - f.mean(axis=0)) ** 2, axis=-1), axis=0))  # (F, N)
    vs = np.std(v / natoms, axis=0)  # (F, 9)
    es = np.std(e / natoms, axis=0)
    return np.column_stack([vs.max(1), vs.min(1), np.linalg.norm(vs, axis=1) / 3,
                            spread.max(1), spread.min(1), spread.mean(1), es])


def test_matches_definition():
    rng = np.random.default_rng(0)
    e, f, v = rng.normal(size=(4, 5)), rng.normal(size=(4, 5, 7, 3)), rng.normal(size=(4, 5, 9))
    np.testing.assert_allclose(ensemble_deviation(e, f, v), naive_deviation(e, f, v), rtol=1e-12)


def test_identical_models_have_zero_deviation():
    rng = np.random.default_rng(1)
    f = np.repeat(rng.normal(size=(1, 3, 4, 3)), 4, axis=0)
    d = ensemble_deviation(np.zeros((4, 3)), f, np.zeros((4, 3, 9)))
    assert np.allclose(d, 0.0)


def test_against_labels_it_is_the_rms_error_of_the_models():
    """``dp model-devi --real_error``: per atom the RMS over models of |F_m - F_label|,
    the energy's RMS error per atom; virial columns NaN when there is no virial."""
    rng = np.random.default_rng(2)
    e, f, v = rng.normal(size=(4, 5)), rng.normal(size=(4, 5, 7, 3)), rng.normal(size=(4, 5, 9))
    re, rf, rv = rng.normal(size=5), rng.normal(size=(5, 7, 3)), rng.normal(size=(5, 9))
    d = ensemble_deviation(e, f, v, (re, rf, rv))
    per_atom = np.sqrt(np.mean(np.sum((f - rf) ** 2, axis=-1), axis=0))  # (F, N)
    np.testing.assert_allclose(d[:, 3], per_atom.max(1), rtol=1e-12)
    np.testing.assert_allclose(d[:, 5], per_atom.mean(1), rtol=1e-12)
    np.testing.assert_allclose(d[:, 6], np.sqrt(np.mean((e / 7 - re / 7) ** 2, axis=0)),
                               rtol=1e-12)
    vs = np.sqrt(np.mean((v / 7 - rv / 7) ** 2, axis=0))
    np.testing.assert_allclose(d[:, 0], vs.max(1), rtol=1e-12)
    no_virial = ensemble_deviation(e, f, v, (re, rf, None))
    assert np.isnan(no_virial[:, :3]).all()
    np.testing.assert_allclose(no_virial[:, 3:], d[:, 3:])
    # models that are the labels: no error
    assert np.allclose(ensemble_deviation(np.tile(re, (4, 1)), np.tile(rf, (4, 1, 1, 1)),
                                          np.tile(rv, (4, 1, 1)), (re, rf, rv)), 0.0)


def test_model_devi_out_format_roundtrip(tmp_path):
    steps = np.array([0, 10, 20])
    devi = np.arange(21, dtype=float).reshape(3, 7) / 7
    text = format_model_devi(steps, devi)
    lines = text.splitlines()
    assert lines[0] == MODEL_DEVI_HEADER
    assert lines[0] == ("#  step  max_devi_v  min_devi_v  avg_devi_v  max_devi_f  min_devi_f"
                        "  avg_devi_f  devi_e")
    assert len(lines[2]) == 12 + 7 * 19 and lines[2][:12] == f"{10:12d}"
    write_model_devi(tmp_path / "model_devi.out", steps, devi)
    s, d = read_model_devi(tmp_path / "model_devi.out")
    assert s.tolist() == [0, 10, 20]
    np.testing.assert_allclose(d, devi, rtol=1e-6)
