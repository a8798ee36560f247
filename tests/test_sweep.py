"""Hydra multirun: a sweep over trust levels runs one raygen per value, each in its
own run directory with its own config."""

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
