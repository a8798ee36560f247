"""deepmd-kit's PyTorch backend through the whole loop, on CPU: ``dp --pt train`` and
``freeze`` (``.pth``), ``dp --pt compress``, LAMMPS MD with the ``.pth`` models, the
evaluators' deviations, a ``kill -9`` and resume, the held-out scorer — and a DPA-3
ensemble (``train=dpa3``), which deepmd-kit cannot compress."""

import json
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


def test_a_dpa3_ensemble_runs_the_loop_and_teaches_a_compressed_student(tmp_path):
    """train=dpa3 (uncompressed: deepmd-kit cannot tabulate it), then distillation: its
    published model labels a se_e2_a student's frames (label=deepmd)."""
    run = tmp_path / "run"
    proc = subprocess.run(raygen_cmd(run, "train=dpa3", "max_iter=1", "train.numb_steps=200",
                                     "train.numb_models=2"),
                          cwd=tmp_path, env=env_for(tmp_path), capture_output=True, text=True,
                          timeout=1500)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (0, 8) in records(run)
    train = run / "iter.000000" / "00.train"
    inp = (train / "000" / "input.json").read_text()
    assert '"type": "dpa3"' in inp and '"nlayers": 2' in inp
    assert len(list(train.glob("graph.[0-9][0-9][0-9].pth"))) == 2
    assert not list(train.glob("*.compressed.*"))
    log = (run / "raygen.log").read_text()
    assert "deepmd-kit cannot compress the dpa3 descriptor" in log
    assert "dp compress exited" not in log  # known before, not tried
    for task in sorted((run / "iter.000000" / "01.model_devi").glob("task.*")):
        steps, devi = read_model_devi(task / "model_devi.out")
        assert len(steps) == 31 and np.isfinite(devi).all()

    # distillation: the DPA-3 model is the labeler of a small compressed se_e2_a student
    teacher = run / "models" / "graph.000.pth"
    student = tmp_path / "student"
    proc = subprocess.run(raygen_cmd(student, "label=deepmd", f"label.model={teacher}",
                                     "max_iter=1", "train.numb_steps=200",
                                     "train.numb_models=2",
                                     # a smooth teacher: students agree closely
                                     "select.f_trust_lo=0.005", "select.f_trust_hi=5"),
                          cwd=tmp_path, env=env_for(tmp_path), capture_output=True, text=True,
                          timeout=1500)
    assert proc.returncode == 0, proc.stderr[-3000:]
    fp = student / "iter.000000" / "02.fp"
    assert json.loads((fp / "collected.json").read_text())["label_status"]["converged"] > 0
    assert (student / "iter.000000" / "00.train" / "graph.000.compressed.pb").exists()
    # a label is the teacher's prediction
    from ase.io import read
    from deepmd.infer import DeepPot

    labelled = sorted(fp.glob("task.*/output.extxyz"))[0]
    frame = read(labelled)
    e, f, _ = DeepPot(str(teacher)).eval(frame.positions.reshape(1, -1),
                                         frame.cell.array.reshape(1, -1), [0] * len(frame))
    np.testing.assert_allclose(frame.get_forces(), f.reshape(-1, 3), atol=1e-5)
