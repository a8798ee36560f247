"""deepmd-kit's PyTorch backend through the whole loop, on CPU: ``dp --pt train`` and
``freeze`` (``.pth``), ``dp --pt compress``, LAMMPS MD with the ``.pth`` models, the
evaluators' deviations, a ``kill -9`` and resume, the held-out scorer. (A DPA-3
ensemble in the loop, which deepmd-kit cannot compress, and its distillation:
tests/test_finetune.py.)"""

import subprocess
import sys

import numpy as np
import pytest

from raygen.science.dataset import write_deepmd_npy
from raygen.science.deviation import read_model_devi
from tests.conftest import cu_frames
from tests.test_end_to_end import env_for, kill_9_when, mtimes, raygen_cmd, records

pytestmark = pytest.mark.slow


def test_a_pytorch_run_trains_compresses_explores_resumes_and_scores(tmp_path):
    run = tmp_path / "run"
    cmd = raygen_cmd(run, "train.backend=pt", "max_iter=1", "train.numb_steps=300")
    env = env_for(tmp_path)
    train = run / "iter.000000" / "00.train"

    # kill -9 while the ensemble trains: some .pth members frozen, others not
    kill_9_when(cmd, tmp_path, run, lambda: (train / "graph.000.pth").exists())
    done = sorted(train.glob("graph.*.pth"))
    assert 0 < len(done) < 4
    before = mtimes(done)

    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=1500)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert mtimes(done) == before, "a member frozen before the kill was trained again"
    assert (0, 8) in records(run)
    members = sorted(train.glob("graph.[0-9][0-9][0-9].pth"))
    assert len(members) == 4 and not list(train.glob("graph.*.pb"))
    for m in range(4):
        log = (train / f"{m:03d}" / "train.log").read_text()
        assert "$ dp --pt train input.json" in log
        assert (train / f"{m:03d}" / "model.ckpt.pt").exists()
    # `dp --pt compress` of the MD model; the MD ran with it
    assert (train / "graph.000.compressed.pth").stat().st_size > 0
    md = run / "iter.000000" / "01.model_devi"
    tasks = sorted(md.glob("task.*"))
    assert len(tasks) == 4
    assert "graph.000.compressed.pth" in (tasks[0] / "in.lammps").read_text()
    for task in tasks:
        steps, devi = read_model_devi(task / "model_devi.out")
        assert len(steps) == 31 and np.isfinite(devi).all() and (devi[:, 3] > 0).all()
    log = (run / "raygen.log").read_text()
    assert "MD model compressed" in log and "0 MD errors" in log

    # the published models score on data they never saw
    unseen = tmp_path / "unseen"
    write_deepmd_npy(cu_frames(n_perturb=1, md_steps=4, seed=21), ["Cu"], unseen)
    scored = subprocess.run([sys.executable, "-m", "raygen.report.holdout",
                             str(run / "models"), str(unseen)],
                            capture_output=True, text=True, timeout=300)
    assert scored.returncode == 0, scored.stderr[-2000:]
    assert "4 models from" in scored.stdout
    f_rmse = float(scored.stdout.splitlines()[-1].split()[3])
    assert 0 < f_rmse < 1.0  # eV/Å: trained models, not noise
