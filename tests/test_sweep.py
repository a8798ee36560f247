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
        [sys.executable, "-m", "raygen", "-m", "+exp=cu_smoke", "max_iter=0", "progress=false",
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
