"""The cu-quick benchmark keeps working: its generator writes byte-identical inputs
for both tools, DP-GEN's step times are read from its log, and raygen runs the
workload's experiment (tiny sizes; DP-GEN itself is run by the benchmark only)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench" / "cu_quick"))

def _log_line(stamp: str, ii: int, task: int) -> str:
    return f"2026-11-22 {stamp} - INFO : {'-' * 25}iter.{ii:06d} task {task:02d}{'-' * 26}"


DPGEN_LOG = "\n".join(
    ["2026-11-22 22:59:33,796 - INFO : start running"]
    + [_log_line(t, 0, k) for k, t in enumerate(
        ["22:59:33,799", "22:59:33,804", "23:00:04,948", "23:00:04,950", "23:00:04,990",
         "23:02:04,990", "23:02:06,000", "23:02:07,000", "23:02:37,000"])]
    + [_log_line("23:02:38,000", 1, 0)]) + "\n"


def test_dpgen_step_times_from_its_log(tmp_path):
    from compare import dpgen_times

    (tmp_path / "dpgen.log").write_text(DPGEN_LOG)
    t = dpgen_times(tmp_path)[0]
    assert t["train"] == pytest.approx(31.151, abs=1e-3)
    assert t["explore"] == pytest.approx(121.05, abs=1e-2)
    assert t["label"] == pytest.approx(32.0, abs=1e-2)


@pytest.mark.slow
def test_workload_and_raygen_side_of_the_benchmark(tmp_path):
    out = tmp_path / "cq"
    subprocess.run([sys.executable, str(ROOT / "bench" / "cu_quick" / "workload.py"), str(out),
                    "/usr/bin/python3"], check=True, capture_output=True, timeout=300)
    param = json.loads((out / "dpgen" / "param.json").read_text())
    assert param["fp_style"] == "custom" and len(param["model_devi_jobs"]) == 3
    assert sorted(p.name for p in (out / "confs" / "fcc").iterdir()) == [
        f"POSCAR.{k:03d}" for k in range(5)]
    # raygen reads the same files (tiny training and MD here)
    run = tmp_path / "run"
    proc = subprocess.run(
        [sys.executable, "-m", "raygen", "+exp=cu_quick", f"workdir={run}", "max_iter=1",
         "train.numb_steps=50", "explore.jobs.0.nsteps=100", "progress=false"],
        env={**os.environ, "RAYGEN_CU_QUICK": str(out)}, capture_output=True, text=True,
        timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    from ase.io import read

    for name in ("fcc", "hcp", "bcc"):
        for k in range(5):  # the given starts, as given (to extxyz's 8 printed decimals)
            a = read(run / "init" / "confs" / name / f"conf.{k:03d}.extxyz")
            b = read(out / "confs" / name / f"POSCAR.{k:03d}")
            assert abs(a.positions - b.positions).max() < 1e-7
            assert abs(a.cell.array - b.cell.array).max() < 1e-7
    from compare import final_models, holdout, raygen_rows

    rows = raygen_rows(run)
    assert rows[0]["accurate"] + rows[0]["candidate"] + rows[0]["failed"] == 60 * 11
    score = holdout(final_models("raygen", run), out, tmp_path / "holdout.json")
    assert score["frames"] == 12 * 8
