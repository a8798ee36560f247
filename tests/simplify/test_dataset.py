"""The data set simplify reads (dpdata) and the subsets it writes; its refusals."""

import numpy as np
import pytest

from raygen.science.dataset import data_set_problems, write_deepmd_npy
from raygen.simplify import dataset
from tests.conftest import cu_frames
from tests.test_config import cfg_with


@pytest.fixture(scope="module")
def cu_set(tmp_path_factory):
    root = tmp_path_factory.mktemp("set")
    frames = cu_frames(n_perturb=2, md_steps=3)  # 32-atom fcc
    write_deepmd_npy(frames, ["Cu"], root / "a")
    small = [f[:16] for f in frames[:4]]  # and a 16-atom system
    for f, g in zip(small, frames[:4]):
        from ase.calculators.singlepoint import SinglePointCalculator

        f.calc = SinglePointCalculator(f, energy=g.get_potential_energy() / 2,
                                       forces=g.get_forces()[:16])
    write_deepmd_npy(small, ["Cu"], root / "b")
    return root, len(frames), len(small)


def test_frames_subsets_and_labels_survive_the_round_trip(cu_set, tmp_path):
    root, n32, n16 = cu_set
    whole = dataset.load([str(root / "*")], ["Cu"], labeled=True)
    index = dataset.frame_index(whole)
    assert len(index) == n32 + n16 == whole.get_nframes()
    table = dataset.frames_of(whole, ["Cu"], labeled=True)
    assert table.num_rows == len(index)
    assert {"energy", "forces"} <= set(table.column_names)
    assert [(r["task_id"], r["step"]) for r in table.select(["task_id", "step"]).to_pylist()] \
        == index
    some = [index[k] for k in (0, 3, len(index) - 1)]
    assert dataset.write_subset(whole, some, tmp_path / "picked") == 3
    back = dataset.read_subset(tmp_path / "picked", ["Cu"], labeled=True)
    assert back.get_nframes() == 3
    name, k = some[0]
    np.testing.assert_allclose(back[name]["coords"][0], whole[name]["coords"][k])
    np.testing.assert_allclose(back[name]["forces"][0], whole[name]["forces"][k])
    # none: an empty folder, read back as no frames
    assert dataset.write_subset(whole, [], tmp_path / "none") == 0
    assert dataset.read_subset(tmp_path / "none", ["Cu"], labeled=True).get_nframes() == 0


def test_bad_data_sets_are_named(cu_set, tmp_path):
    root, _, _ = cu_set
    assert data_set_problems([], False, "k") == [
        "k: is empty; give the deepmd/npy data set(s) to simplify"]
    assert data_set_problems([str(tmp_path / "nope*")], False, "k") == [
        f"k: {tmp_path / 'nope*'} matches nothing"]
    (tmp_path / "empty").mkdir()
    assert "holds no deepmd/npy system" in data_set_problems([str(tmp_path / "empty")],
                                                             False, "k")[0]
    unlabelled = tmp_path / "u" / "Cu32"
    import shutil

    shutil.copytree(root / "a" / "Cu32", unlabelled)
    for f in unlabelled.glob("set.*/energy.npy"):
        f.unlink()
    assert data_set_problems([str(unlabelled)], False, "k") == []
    (msg,) = data_set_problems([str(unlabelled)], True, "k")
    assert "no energy.npy/force.npy" in msg and "simplify.labeled" in msg


def test_simplify_settings_are_checked_before_anything_runs(cu_set, tmp_path):
    from raygen.validate import ConfigError, validate

    root, _, _ = cu_set
    good = [f"simplify.pick_data=[{root}/a]", "simplify.labeled=true",
            "simplify.init_pick_number=5", "simplify.iter_pick_number=2",
            f"workdir={tmp_path}/run", "systems=[]"]
    validate(cfg_with(*good), simplify=True)  # no exploration systems needed
    with pytest.raises(ConfigError) as err:
        validate(cfg_with(*good[:1], "simplify.init_pick_number=0",
                          "simplify.true_error_f_trust_lo=0.1", "simplify.f_trust_lo=0.5",
                          "simplify.stop_iter=0", f"workdir={tmp_path}/run", "systems=[]"),
                 simplify=True)
    problems = err.value.problems
    assert "simplify.init_pick_number: must be >= 1, got 0" in problems
    assert "simplify.iter_pick_number: must be >= 1, got 0" in problems
    assert "simplify.f_trust_lo: 0.5 is above simplify.f_trust_hi: 0.15" in problems
    assert any(p.startswith("simplify.true_error_*: need labels") for p in problems)
    assert any(p.startswith("simplify.stop_iter: must be >= 1") for p in problems)
    with pytest.raises(ConfigError) as err:  # the loop still needs systems
        validate(cfg_with(*good))
    assert "systems: is empty; give at least one exploration system" in err.value.problems
