"""The labelling task: EMT through the labeler interface, typed outcomes, no redo."""

import numpy as np
from ase.calculators.emt import EMT

from raygen.actors.labeling import LABELED_FILE, OUTCOME_FILE, label_frame, read_outcome
from raygen.config.plugins import LABELERS
from raygen.labelers import Labeler, LabelStatus
from raygen.labelers.emt import EmtLabelConfig
from raygen.science.dataset import write_deepmd_npy
from tests.conftest import cu_frames


def test_emt_label_matches_emt_and_is_not_redone(tmp_path):
    atoms = cu_frames(n_perturb=1, md_steps=0)[0]
    outcome = label_frame(EmtLabelConfig(), atoms, str(tmp_path / "task"))
    assert outcome.status is LabelStatus.CONVERGED and outcome.usable
    ref = atoms.copy()
    ref.calc = EMT()
    assert np.isclose(outcome.atoms.get_potential_energy(), ref.get_potential_energy())
    # labels round-trip through extended XYZ, which keeps 8 decimals
    np.testing.assert_allclose(outcome.atoms.get_forces(), ref.get_forces(), atol=1e-7)
    mtime = (tmp_path / "task" / OUTCOME_FILE).stat().st_mtime_ns
    again = label_frame(EmtLabelConfig(), atoms, str(tmp_path / "task"))
    assert (tmp_path / "task" / OUTCOME_FILE).stat().st_mtime_ns == mtime
    assert np.isclose(again.atoms.get_potential_energy(), ref.get_potential_energy())


class BrokenLabeler(Labeler):
    def write_inputs(self, atoms, task_dir, extra=None):
        (task_dir / "INPUT").write_text("x")

    def execute(self, task_dir, timeout, cpus=1, extra=None):
        raise RuntimeError("segfault in the DFT code")

    def parse(self, task_dir, atoms, run):  # pragma: no cover - never reached
        raise AssertionError


def test_crash_is_typed_and_never_training_data(tmp_path, monkeypatch):
    monkeypatch.setitem(LABELERS, "broken", f"{__name__}:BrokenLabeler")
    cfg = EmtLabelConfig(name="broken")
    outcome = label_frame(cfg, cu_frames(1, 0)[0], str(tmp_path / "t"))
    assert outcome.status is LabelStatus.CRASHED and "segfault" in outcome.message
    assert not outcome.usable and not (tmp_path / "t" / LABELED_FILE).exists()
    assert read_outcome(tmp_path / "t").status is LabelStatus.CRASHED


def test_labels_become_deepmd_data_with_virial(tmp_path):
    frames = cu_frames(n_perturb=1, md_steps=2)
    n = write_deepmd_npy(frames, ["Cu"], tmp_path)
    assert n == 3
    virial = np.load(tmp_path / "Cu32" / "set.000" / "virial.npy")
    expected = -frames[0].get_volume() * frames[0].get_stress(voigt=False)
    np.testing.assert_allclose(virial[0].reshape(3, 3), expected, rtol=1e-6, atol=1e-8)
    assert (tmp_path / "Cu32" / "type_map.raw").read_text().split() == ["Cu"]
