"""explore.early_stop and explore.grow through the command line: a run whose ensemble
gives up on most frames (cu_smoke, upper trust level lowered) stops those MD tasks early,
goes on once from their last trusted frame, and counts what did not run as failed; its
second iteration's MD is 4x as long (grow's thresholds set so that it always grows); the
labels are picked by farthest-point sampling in descriptor space (select.pick=fps)."""

import json
import subprocess
import sys

import numpy as np
import pytest

from raygen.science.deviation import read_model_devi

pytestmark = pytest.mark.slow


def test_tasks_the_ensemble_gives_up_on_stop_and_are_counted_failed(tmp_path):
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "raygen", "+exp=cu_smoke", f"workdir={run}", "progress=false",
           "max_iter=2", "train.numb_steps=300", "select.f_trust_lo=0.02",
           "select.f_trust_hi=0.08", "explore.early_stop.failed_frames=2",
           "explore.early_stop.check_every=1", "explore.early_stop.restarts=1",
           "explore.grow.enabled=true", "explore.grow.x4_below=1.01",
           "explore.grow.x2_below=1.01", "select.pick=fps", "select.pick_descriptor=atom"]
    proc = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for ii, nsteps in ((0, 300), (1, 1200)):
        md = run / f"iter.{ii:06d}" / "01.model_devi"
        tasks = sorted(md.glob("task.*"))
        planned = nsteps // 10 + 1
        not_run = 0
        for t in tasks:
            assert json.loads((t / "task.json").read_text())["nsteps"] == nsteps
            steps, _ = read_model_devi(t / "model_devi.out")  # the reducer's, as always
            assert list(steps) == sorted(set(steps)), t
            if (t / "stopped.json").exists():
                record = json.loads((t / "stopped.json").read_text())
                assert record["frames_run"] == len(steps) < planned
                assert record["frames_run"] + record["frames_not_run"] == planned
                # it went on from its last trusted frame, if it had one, and stopped again
                assert record["restarts"] == int((t / "in.restart.1.lammps").exists())
                not_run += record["frames_not_run"]
            else:  # ran to its last step, at once or after a restart
                assert len(steps) == planned and steps[-1] == nsteps
        summary = json.loads((run / f"iter.{ii:06d}" / "summary.json").read_text())
        assert summary["frames_not_run"] == not_run
        assert summary["frames"] == summary["accurate"] + summary["candidate"] + \
            summary["failed"] == len(tasks) * planned  # what ran, and what would have
        assert summary["failed"] >= not_run
        assert json.loads((md / "stats.json").read_text())["frames_not_run"] == not_run
        if ii == 0:
            assert not_run > 0, "no task stopped: the ensemble of iteration 0 did not give up"
        for t in tasks:  # the reducer kept every frame's vector beside its deviation
            with np.load(t / "descriptors.npz") as d:
                steps, _ = read_model_devi(t / "model_devi.out")
                assert list(d["steps"]) == list(steps) and d["vectors"].shape == (len(steps), 32)
        chosen = json.loads((run / f"iter.{ii:06d}/02.fp/selection.json").read_text())
        assert sum(s["chosen"] for s in chosen["systems"].values()) == summary["labels_added"]
    growth = json.loads((run / "iter.000001/01.model_devi/growth.json").read_text())
    assert {g["factor"] for g in growth.values()} == {4}
    log = (run / "raygen.log").read_text()
    assert "stopped early (the ensemble gave up)" in log
    assert "MD 4x as long as the job's" in log
