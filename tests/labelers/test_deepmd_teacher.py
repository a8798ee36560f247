"""label=deepmd: a trained model labels frames in place of DFT (distillation)."""

import numpy as np

from raygen.actors.labeling import label_frame
from raygen.config.plugins import LABELERS, load
from raygen.labelers import LabelStatus
from raygen.labelers.deepmd import DeepmdLabelConfig
from tests.conftest import cu_frames


def test_the_teacher_labels_energy_forces_and_virial_as_deepmd_predicts(backend_models,
                                                                        tmp_path):
    from deepmd.infer import DeepPot

    _, models = backend_models
    atoms = cu_frames(n_perturb=1, md_steps=0, seed=3)[0]
    outcome = label_frame(DeepmdLabelConfig(model=str(models[0])), atoms,
                          str(tmp_path / "task"))
    assert outcome.status is LabelStatus.CONVERGED and outcome.usable
    e, f, v = DeepPot(str(models[0])).eval(atoms.positions.reshape(1, -1),
                                           atoms.cell.array.reshape(1, -1), [0] * len(atoms))
    assert np.isclose(outcome.atoms.get_potential_energy(), float(np.ravel(e)[0]), atol=1e-6)
    np.testing.assert_allclose(outcome.atoms.get_forces(), f.reshape(-1, 3), atol=1e-6)
    # ASE's stress is -virial / volume
    stress = outcome.atoms.get_stress(voigt=False)
    np.testing.assert_allclose(-stress * atoms.get_volume(), v.reshape(3, 3), atol=1e-5)


def problems_of(tmp_path, type_map=("Cu",), **cfg):
    labeler = load(LABELERS, "deepmd", "labeler")(DeepmdLabelConfig(**cfg))
    return labeler.problems(list(type_map))


def test_a_teacher_that_cannot_label_the_run_is_refused_before_it_starts(tiny_pt_models,
                                                                        tmp_path):
    assert "label.model: the teacher model file is not set" in problems_of(tmp_path)[0]
    assert "is not a deepmd-kit model file" in problems_of(tmp_path, model="t.json")[0]
    missing = problems_of(tmp_path, model=str(tmp_path / "t.pth"))
    assert missing == [f"label.model: {tmp_path / 't.pth'} does not exist"]
    (tmp_path / "junk.pth").write_bytes(b"not a model")
    (msg,) = problems_of(tmp_path, model=str(tmp_path / "junk.pth"))
    assert "does not load as a deepmd-kit model" in msg
    (msg,) = problems_of(tmp_path, type_map=("Cu", "Ag"), model=str(tiny_pt_models[0]))
    assert "knows ['Cu'], not ['Ag']" in msg
    assert problems_of(tmp_path, model=str(tiny_pt_models[0])) == []


def test_a_relative_teacher_path_is_taken_from_where_raygen_started(tmp_path, monkeypatch):
    from hydra import compose, initialize_config_module

    from raygen.config.paths import resolve_paths
    from raygen.config.schema import register_configs

    register_configs()
    monkeypatch.chdir(tmp_path)
    with initialize_config_module(version_base=None, config_module="raygen.conf"):
        cfg = compose(config_name="config", overrides=[
            "+exp=cu_smoke", "workdir=run", "label=deepmd", "label.model=teachers/t.pth",
            "train.backend=pt", "train.finetune.model=pre/p.pt"])
    resolve_paths(cfg)
    assert cfg.label.model == str(tmp_path / "teachers" / "t.pth")
    assert cfg.train.finetune.model == str(tmp_path / "pre" / "p.pt")
    assert cfg.workdir == str(tmp_path / "run")
