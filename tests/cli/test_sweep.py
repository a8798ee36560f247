"""Hydra multirun: a sweep over trust levels runs one raygen per value, each in its
own run directory with its own config."""

import json
import subprocess
import sys

import pytest
import yaml

pytestmark = pytest.mark.slow


def test_sweep_over_trust_levels(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "raygen", "-m", "+exp=cu_smoke", "max_iter=0", "progress=false",
         "select.f_trust_lo=0.03,0.05", "workdir=runs/lo_${select.f_trust_lo}"],
        cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for lo in ("0.03", "0.05"):
        run = tmp_path / "runs" / f"lo_{lo}"
        cfg = yaml.safe_load((run / "raygen.yaml").read_text())
        assert cfg["select"]["f_trust_lo"] == float(lo)
        assert (run / "init" / "data.fcc" / "done").exists()


def test_sweep_members_get_their_own_run_directories_and_a_comparison(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "raygen", "-m", "+exp=cu_smoke", "max_iter=0",
         "workdir=runs", "select.f_trust_lo=0.03,0.05", "select.f_trust_hi=0.15,0.25"],
        cwd=tmp_path, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    members = sorted(p.name for p in (tmp_path / "runs").iterdir() if p.is_dir())
    assert members == ["f_trust_lo_0.03-f_trust_hi_0.15", "f_trust_lo_0.03-f_trust_hi_0.25",
                       "f_trust_lo_0.05-f_trust_hi_0.15", "f_trust_lo_0.05-f_trust_hi_0.25"]
    for m in members:
        cfg = yaml.safe_load((tmp_path / "runs" / m / "raygen.yaml").read_text())
        lo, hi = (float(x.split("_")[-1]) for x in m.split("-"))
        assert (cfg["select"]["f_trust_lo"], cfg["select"]["f_trust_hi"]) == (lo, hi)
    rows = json.loads((tmp_path / "runs" / "sweep.json").read_text())
    assert [r["select.f_trust_lo"] for r in rows] == ["0.03", "0.03", "0.05", "0.05"]
    assert "sweep of 4 members" in proc.stdout and "f_trust_hi" in proc.stdout
    # nothing left in the start directory but the runs: Hydra's record joins them
    assert sorted(p.name for p in tmp_path.iterdir()) == ["runs"]
    assert (tmp_path / "runs" / "multirun.yaml").exists()
    # no progress-bar fragments in output that is not a terminal
    assert "\r" not in proc.stdout + proc.stderr and "it/s]" not in proc.stderr


def _span(run) -> tuple[float, float]:
    """First and last timestamp of a member's raygen.log (seconds)."""
    from datetime import datetime

    stamps = [datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f").timestamp()
              for line in (run / "raygen.log").read_text().splitlines()
              if line[:4].isdigit() and line[4] == "-"]
    return stamps[0], stamps[-1]


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_sweep_members_run_side_by_side_on_one_cluster(tmp_path):
    """With cluster.address set, the members start at once, each its own driver on
    the same Ray cluster, and the sweep still ends with one comparison."""
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 2})
    address = cluster.address
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "raygen", "-m", "+exp=cu_smoke", "max_iter=0",
             "progress=false", "workdir=runs", "select.f_trust_lo=0.03,0.05",
             f"cluster.address={address}"],
            cwd=tmp_path, capture_output=True, text=True, timeout=900)
    finally:
        cluster.shutdown()
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "2 sweep members side by side" in proc.stdout
    runs = [tmp_path / "runs" / f"f_trust_lo_{lo}" for lo in ("0.03", "0.05")]
    for run in runs:
        log = (run / "raygen.log").read_text()
        assert f"connected to Ray cluster at {address}" in log
        assert (run / "init" / "data.fcc" / "done").exists()
    # each member's output is relayed with its name in front
    assert "[f_trust_lo_0.03]" in proc.stdout and "[f_trust_lo_0.05]" in proc.stdout
    (a0, a1), (b0, b1) = (_span(r) for r in runs)
    assert a0 < b1 and b0 < a1, "the two members' runs overlap in time"
    rows = json.loads((tmp_path / "runs" / "sweep.json").read_text())
    assert [r["select.f_trust_lo"] for r in rows] == ["0.03", "0.05"]
    assert "sweep of 2 members" in proc.stdout
