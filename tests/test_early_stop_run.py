"""explore.early_stop through the command line: a run whose ensemble gives up on most
frames (iteration 0 of cu_smoke, upper trust level lowered) stops those MD tasks early,
goes on once from their last trusted frame, and counts what did not run as failed."""

import json
import subprocess
import sys

import pytest

from raygen.science.deviation import read_model_devi

pytestmark = pytest.mark.slow


def test_tasks_the_ensemble_gives_up_on_stop_and_are_counted_failed(tmp_path):
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "raygen", "+exp=cu_smoke", f"workdir={run}", "progress=false",
           "max_iter=1", "train.numb_steps=300", "select.f_trust_lo=0.02",
           "select.f_trust_hi=0.08", "explore.early_stop.failed_frames=2",
           "explore.early_stop.check_every=1", "explore.early_stop.restarts=1"]
    proc = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    md = run / "iter.000000" / "01.model_devi"
    tasks = sorted(md.glob("task.*"))
    planned = 300 // 10 + 1
    not_run = 0
    for t in tasks:
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
            assert len(steps) == planned and steps[-1] == 300
    assert not_run > 0, "no task stopped: the ensemble of iteration 0 did not give up"
    summary = json.loads((run / "iter.000000" / "summary.json").read_text())
    assert summary["frames_not_run"] == not_run
    assert summary["frames"] == summary["accurate"] + summary["candidate"] + summary["failed"]
    assert summary["failed"] >= not_run
    assert summary["frames"] == len(tasks) * planned  # what ran, and what would have
    assert json.loads((md / "stats.json").read_text())["frames_not_run"] == not_run
    assert "stopped early (the ensemble gave up)" in (run / "raygen.log").read_text()
