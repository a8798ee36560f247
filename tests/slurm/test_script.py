"""The sbatch script's own pieces, without Slurm: its cleanup matches exactly this
job's Ray processes (job 12's never job 123's)."""

import subprocess
import time
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "slurm" / "raygen.sbatch"


def pattern(tmp: str) -> str:
    return subprocess.run(
        ["bash", "-c", f'source "{SCRIPT}"; ray_pattern "$1"', "_", tmp],
        env={"RAYGEN_SBATCH_FUNCTIONS_ONLY": "1", "SLURM_JOB_ID": "12", "PATH": "/usr/bin:/bin"},
        capture_output=True, text=True, check=True).stdout


def fake(argv0: str) -> subprocess.Popen:
    """A process whose command line reads like one of Ray's."""
    return subprocess.Popen(["bash", "-c", f'exec -a "{argv0}" sleep 60'])


def test_cleanup_matches_this_jobs_ray_only(tmp_path):
    ours = [fake("raylet --temp-dir=/tmp/rgx/ray_12 --x"),
            fake("gcs_server --log_dir=/tmp/rgx/ray_12/session_1/logs"),
            fake("agent --temp-dir=/tmp/rgx/ray_12")]
    theirs = [fake("raylet --temp-dir=/tmp/rgx/ray_123 --x"),
              fake("gcs_server --log_dir=/tmp/rgx/ray_123/session_1/logs"),
              fake("agent --temp-dir=/tmp/rgx/ray_12x")]
    try:
        time.sleep(0.3)
        pat = pattern("/tmp/rgx/ray_12")
        subprocess.run(["pkill", "-KILL", "-f", "--", pat], check=True)
        for p in ours:
            assert p.wait(timeout=10) != 0
        time.sleep(0.3)
        assert all(p.poll() is None for p in theirs), "another job's Ray was hit"
        # a regex character in the path is taken literally
        assert pattern("/scr/a.b/ray_12").startswith(r"/scr/a\.b/ray_12")
    finally:
        for p in ours + theirs:
            p.kill()
            p.wait()
