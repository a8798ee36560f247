"""slurm/raygen.sbatch on a real (single-node) Slurm: a tiny experiment submitted
with sbatch runs a Ray closed to strangers (its own token); cancelled with scancel
mid-run it stops promptly and leaves no Ray process of its own behind, and a
resubmission finishes with its models and record without redoing finished work."""

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.batch_jobs import processes_with

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "slurm" / "raygen.sbatch"


def recorded(run: Path) -> set[tuple[int, int]]:
    return {tuple(map(int, ln.split())) for ln in (run / "record.raygen").read_text().splitlines()}


def sbatch(env, cwd: Path, *overrides: str) -> int:
    out = subprocess.run(
        ["sbatch", "--parsable", f"--cpus-per-task={os.cpu_count() or 2}",
         f"--output={cwd}/slurm-%j.out", str(SCRIPT), "+exp=cu_smoke", *overrides],
        env={**env, "RAYGEN_PYTHON": sys.executable, "RAYGEN_CLUSTER": "slurm_cpu",
             "RAYGEN_RAY_TMP": "/tmp/rgt"},
        cwd=cwd, capture_output=True, text=True, check=True)
    return int(out.stdout.strip().split(";")[0])


def state(env, job: int) -> str:
    out = subprocess.run(["squeue", "-h", "-j", str(job), "-o", "%T"], env=env,
                         capture_output=True, text=True).stdout.strip()
    return out or "GONE"


def wait_gone(env, job: int, timeout: float) -> None:
    deadline = time.time() + timeout
    while state(env, job) != "GONE":
        assert time.time() < deadline, f"job {job} still {state(env, job)}"
        time.sleep(1)


def ray_processes_of(job: int) -> list[str]:
    return processes_with(f"/tmp/rgt/ray_{job}")


STRANGER = """
import ray, sys
try:
    ray.init(address=sys.argv[1], log_to_driver=False)
    print("RAN", ray.get(ray.remote(lambda: 1).remote(), timeout=30))
except Exception as err:
    print("REFUSED", type(err).__name__)
"""


def as_stranger(address: str, tmp_path: Path, **env) -> str:
    """What another user's process (no token of this job: an empty HOME) gets when it
    connects to the job's Ray and submits a task."""
    home = tmp_path / "stranger_home"
    home.mkdir(exist_ok=True)
    try:
        proc = subprocess.run([sys.executable, "-c", STRANGER, address], capture_output=True,
                              text=True, timeout=20, cwd=tmp_path,
                              env={"PATH": os.environ["PATH"], "HOME": str(home), **env})
    except subprocess.TimeoutExpired:  # a wrong token: Ray's client retries, never in
        return "REFUSED (no connection within 20 s)"
    return proc.stdout


def environ_of(cmd_pattern: str) -> list[dict]:
    out = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            if cmd_pattern not in cmd:
                continue
            raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        except OSError:
            continue
        out.append(dict(kv.decode(errors="replace").split("=", 1) for kv in raw if b"=" in kv))
    return out


def test_sbatch_runs_closed_to_strangers_and_scancel_then_resubmit_resumes(slurm, tmp_path):
    run = tmp_path / "run"
    args = (f"workdir={run}", "max_iter=1", "progress=false", "train.numb_steps=200",
            "explore.jobs.0.nsteps=3000")
    job = sbatch(slurm, tmp_path, *args)
    deadline = time.time() + 600
    while not (run / "raygen.log").exists() or \
            "connected to Ray cluster" not in (run / "raygen.log").read_text():
        assert time.time() < deadline and state(slurm, job) != "GONE", \
            (tmp_path / f"slurm-{job}.out").read_text()[-3000:]
        time.sleep(0.5)
    # 1. closed to strangers: the job's Ray requires its own token, which is in its
    # processes' environment and on no command line
    envs = environ_of(f"/tmp/rgt/ray_{job}")
    tokens = {e.get("RAY_AUTH_TOKEN") for e in envs}
    assert envs and len(tokens) == 1 and None not in tokens and {e["RAY_AUTH_MODE"]
                                                                  for e in envs} == {"token"}
    token = tokens.pop()
    assert len(token) >= 32 and not any(token in c for c in ray_processes_of(job))
    address = re.search(r"Ray head on \S+ \((\S+)\)",
                        (tmp_path / f"slurm-{job}.out").read_text()).group(1)
    assert as_stranger(address, tmp_path).startswith("REFUSED")
    assert as_stranger(address, tmp_path, RAY_AUTH_MODE="token",
                       RAY_AUTH_TOKEN="0" * 64).startswith("REFUSED")

    # 2. cancelled during the MD of iteration 0
    md = run / "iter.000000" / "01.model_devi"
    deadline = time.time() + 900
    while not list(md.glob("task.*/traj.parquet")):
        assert time.time() < deadline and state(slurm, job) != "GONE", \
            (tmp_path / f"slurm-{job}.out").read_text()[-3000:]
        time.sleep(0.5)
    models = {p: p.stat().st_mtime_ns
              for p in run.glob("iter.000000/00.train/graph.[0-9][0-9][0-9].pb")}
    assert len(models) == 4
    cancelled = time.time()
    subprocess.run(["scancel", str(job)], env=slurm, check=True)
    wait_gone(slurm, job, 120)
    assert time.time() - cancelled < 60, "the run stops within seconds of scancel"
    out = (tmp_path / f"slurm-{job}.out").read_text()
    assert "stopping the run, finished work is kept" in out, out[-3000:]
    assert re.search(r"1 node\(s\) up", out)
    deadline = time.time() + 30
    while ray_processes_of(job) and time.time() < deadline:
        time.sleep(1)
    assert ray_processes_of(job) == [], "only this job's Ray, all of it, is stopped"
    done_md = {p: p.stat().st_mtime_ns for p in md.glob("task.*/traj.parquet")}

    # 3. resubmitted: it finishes without redoing finished work
    job = sbatch(slurm, tmp_path, *args)
    wait_gone(slurm, job, 900)
    out = (tmp_path / f"slurm-{job}.out").read_text()
    assert "raygen exited with 0" in out, out[-3000:]
    assert {p: p.stat().st_mtime_ns for p in models} == models  # not trained again
    assert {p: p.stat().st_mtime_ns for p in done_md} == done_md  # MD not redone
    assert (0, 8) in recorded(run)
    log = (run / "raygen.log").read_text()
    assert "resuming at iteration 0" in log and "connected to Ray cluster at" in log
    assert len(list((run / "models").glob("graph.*.pb"))) == 4
    assert json.loads((run / "iter.000000" / "summary.json").read_text())["labels_added"] >= 1
    assert ray_processes_of(job) == []
