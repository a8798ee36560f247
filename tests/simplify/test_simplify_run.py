"""``python -m raygen.simplify`` end to end on an EMT Cu data set: DP-GEN's simplify
layout, picks that add up, labels from the labeler (an unlabelled set) or the set's own
(a labelled one, with true-error levels), the published ensemble, and a resume that
redoes nothing."""

import json
import shutil
import subprocess
import sys

import dpdata
import numpy as np
import pyarrow.parquet as pq
import pytest
from ase.calculators.emt import EMT
from ase.io import read

from raygen.science.dataset import write_deepmd_npy
from tests.conftest import cu_frames
from tests.test_end_to_end import env_for, records

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def data_sets(tmp_path_factory):
    root = tmp_path_factory.mktemp("sets")
    write_deepmd_npy(cu_frames(n_perturb=3, md_steps=12, seed=1), ["Cu"], root / "labelled")
    shutil.copytree(root / "labelled", root / "unlabelled")
    for f in (root / "unlabelled").rglob("set.*/*.npy"):
        if f.name in ("energy.npy", "force.npy", "virial.npy"):
            f.unlink()
    return root


def simplify(run, *overrides):
    return subprocess.run(
        [sys.executable, "-m", "raygen.simplify", f"workdir={run}", "progress=false",
         "train.numb_models=2", "train.numb_steps=100", "simplify.init_pick_number=8",
         "simplify.iter_pick_number=4", "simplify.stop_iter=2", *overrides],
        cwd=run.parent, env=env_for(run.parent), capture_output=True, text=True, timeout=900)


def nframes(path):
    multi = dpdata.MultiSystems(type_map=["Cu"])
    if any(path.rglob("type.raw")):
        multi.from_deepmd_npy(str(path), labeled=False)
    return multi.get_nframes()


def test_an_unlabelled_set_is_simplified_with_the_labeler(data_sets, tmp_path):
    run = tmp_path / "run"
    proc = simplify(run, f"simplify.pick_data=[{data_sets}/unlabelled]",
                    # models this brief agree closely: a low level makes candidates
                    "simplify.f_trust_lo=0.0005", "simplify.f_trust_hi=50")
    assert proc.returncode == 0, proc.stderr[-3000:]
    total = 3 * 13
    md0, md1 = run / "iter.000000" / "01.model_devi", run / "iter.000001" / "01.model_devi"
    assert nframes(md0 / "data.picked") == 8 and nframes(md0 / "data.rest") == total - 8
    # iteration 1: the rest evaluated (dp model-devi's details), split, 4 picked
    assert pq.read_table(md1 / "details.parquet").num_rows == total - 8
    assert (md1 / "details").read_text().startswith("# data.rest.old/Cu32\n#  step")
    counts = json.loads((md1 / "counts.json").read_text())
    assert counts["picked"] == 4 == nframes(md1 / "data.picked")
    assert nframes(md1 / "data.rest") + nframes(md1 / "data.accurate") == total - 8 - 4
    assert counts["candidate"] + counts["accurate"] + counts["failed"] == total - 8
    # labels by the labeler (EMT), one Ray task per picked frame
    tasks = sorted((run / "iter.000001" / "02.fp").glob("task.*/labeled.extxyz"))
    assert len(tasks) == 4
    frame = read(tasks[0])
    atoms = frame.copy()
    atoms.calc = EMT()
    np.testing.assert_allclose(frame.get_forces(), atoms.get_forces(), atol=1e-8)
    log = (run / "raygen.log").read_text()
    assert "iter 2 train: 2 models on 2 systems, 12 frames" in log
    assert "simplify.stop_iter=2 reached" in log
    assert len(list((run / "models").glob("graph.*.pb"))) == 2
    summary = json.loads((run / "simplify.json").read_text())
    assert summary["picked"] == 12 and summary["frames"] == total


def test_a_labelled_set_uses_its_own_labels_judges_true_errors_and_resumes(data_sets,
                                                                          tmp_path):
    run = tmp_path / "run"
    args = (f"simplify.pick_data=[{data_sets}/labelled]", "simplify.labeled=true",
            "simplify.f_trust_lo=0.0005", "simplify.f_trust_hi=50",
            "simplify.true_error_f_trust_lo=0.01", "simplify.true_error_f_trust_hi=50")
    proc = simplify(run, *args)
    assert proc.returncode == 0, proc.stderr[-3000:]
    md1 = run / "iter.000001" / "01.model_devi"
    assert (md1 / "true_error").exists()
    # the errors against the labels are the ensemble's, recomputed here for the rest
    from deepmd.infer import DeepPot

    from raygen.science.deviation import ensemble_deviation
    from raygen.science.ensemble import predict

    rest = dpdata.LabeledSystem(str(run / "iter.000000" / "01.model_devi" / "data.rest" /
                                    "Cu32"), fmt="deepmd/npy")
    models = [DeepPot(str(p)) for p in sorted(run.glob("iter.000001/00.train/graph.*.pb"))]
    preds = predict(models, rest["cells"], rest["coords"], rest["atom_types"], 100)
    expect = ensemble_deviation(*preds, (rest["energies"], rest["forces"],
                                         rest["virials"].reshape(len(rest), 9)))
    err = pq.read_table(md1 / "true_error.parquet")
    np.testing.assert_allclose(err.column("max_devi_f").to_numpy(), expect[:, 3], rtol=1e-6)
    np.testing.assert_allclose(err.column("devi_e").to_numpy(), expect[:, 6], rtol=1e-6)
    # the picked frames' labels are the data set's own (no labelling task ran)
    assert not list(run.glob("iter.*/02.fp/task.*"))
    picked = dpdata.MultiSystems(type_map=["Cu"]).from_deepmd_npy(
        str(run / "iter.000001" / "02.fp" / "data.000"), labeled=True)
    whole = dpdata.LabeledSystem(str(data_sets / "labelled" / "Cu32"), fmt="deepmd/npy")
    s = picked["Cu32"]
    k = int(np.argmin(np.abs(whole["coords"] - s["coords"][0]).sum(axis=(1, 2))))
    np.testing.assert_allclose(s["forces"][0], whole["forces"][k])
    assert (2, 2) in records(run)
    models = {p: p.stat().st_mtime_ns for p in run.glob("iter.*/00.train/graph.*.pb")}
    again = simplify(run, *args)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "resuming at iteration 2" in again.stderr
    assert {p: p.stat().st_mtime_ns for p in models} == models  # nothing trained again
