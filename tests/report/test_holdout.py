"""The ensemble scored on labelled data it never saw: deepmd/npy or any dpdata format."""

import numpy as np
import pytest
from ase.io import write

from raygen.report.holdout import load_systems, main, predict, score
from raygen.science.dataset import write_deepmd_npy
from tests.conftest import cu_frames


@pytest.fixture(scope="module")
def unseen(tmp_path_factory):
    root = tmp_path_factory.mktemp("unseen")
    frames = cu_frames(n_perturb=1, md_steps=4, seed=11)
    write_deepmd_npy(frames, ["Cu"], root / "npy")
    write_deepmd_npy(frames[:2], ["Cu"], root / "npy2")
    write(root / "frames.extxyz", frames, format="extxyz")
    return root, frames


def test_scores_match_a_direct_computation(backend_models, unseen):
    from deepmd.infer import DeepPot

    _, tiny_models = backend_models
    root, frames = unseen
    models = [DeepPot(str(p)) for p in tiny_models]
    (name, system), = load_systems([root / "npy"], None).items()
    s = score(models, system)
    e, f, _ = predict(models, system)
    ref_f = np.stack([a.get_forces() for a in frames])
    ref_e = np.array([a.get_potential_energy() for a in frames])
    assert s.frames == len(frames)
    assert np.isclose(s.f_rmse_eV_A, np.sqrt(np.mean((f.mean(0) - ref_f) ** 2)))
    assert np.isclose(s.e_rmse_meV_atom, 1000 * np.sqrt(np.mean(((e.mean(0) - ref_e) / 32) ** 2)))
    assert len(s.f_rmse_per_model) == 2 and s.mean_max_devi_f > 0


def test_command_reads_npy_and_other_formats(backend_models, unseen, capsys, tmp_path):
    root, _ = unseen
    _, tiny_models = backend_models
    models = tiny_models[0].parent
    assert main([str(models), str(root / "npy"), str(root / "npy2")]) == 0
    out = capsys.readouterr().out
    assert "2 models" in out and out.splitlines()[-1].startswith("all")
    assert main([str(models), str(root / "frames.extxyz"), "--fmt", "extxyz"]) == 0
    assert main([str(models), str(tmp_path)]) == 2  # no data there: a clear error
    assert "no deepmd/npy system" in capsys.readouterr().err


def test_the_command_prints_scores_not_tensorflow_banners(tiny_models, unseen):
    import subprocess
    import sys

    root, _ = unseen
    proc = subprocess.run([sys.executable, "-m", "raygen.report.holdout",
                           str(tiny_models[0].parent), str(root / "npy")],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "2 models from" in proc.stdout
    for noise in ("oneDNN", "cpu_feature_guard", "libcudart", "implib-gen",
                  "DP_INFER_BATCH_SIZE", "absl::InitializeLog"):
        assert noise not in proc.stderr, noise
