"""A real single-node Slurm (Debian's slurmctld, slurmd, munge) started for the
tests: daemons with a private slurm.conf and state under a temp dir, torn down at
the end. Skipped where Slurm is not installed or the tests do not run as root
(``.ci/run`` installs it as root)."""

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

BINARIES = ("slurmctld", "slurmd", "sbatch", "scancel", "squeue", "munged")


def _ready() -> str:
    missing = [b for b in BINARIES if shutil.which(b) is None]
    if missing:
        return f"Slurm is not installed ({', '.join(missing)} missing; .ci/run installs it)"
    if os.geteuid() != 0:
        return "starting slurmctld/slurmd needs root"
    return ""


def slurm_conf(root: Path, cpus: int, mem_mb: int) -> str:
    return f"""\
ClusterName=raygen-test
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
StateSaveLocation={root}/state
SlurmdSpoolDir={root}/spool
SlurmctldPidFile={root}/slurmctld.pid
SlurmdPidFile={root}/slurmd.pid
SlurmctldLogFile={root}/slurmctld.log
SlurmdLogFile={root}/slurmd.log
SlurmctldPort=16817
SlurmdPort=16818
KillWait=30
InactiveLimit=0
MinJobAge=300
NodeName=localhost NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={mem_mb} State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
"""


def _start_munge(root: Path) -> None:
    if subprocess.run(["munge", "-n"], capture_output=True).returncode == 0:
        return  # already running
    run = Path("/run/munge")
    run.mkdir(parents=True, exist_ok=True)
    shutil.chown(run, "munge", "munge")
    subprocess.run(["runuser", "-u", "munge", "--", "munged"], check=True)
    for _ in range(50):
        if subprocess.run(["munge", "-n"], capture_output=True).returncode == 0:
            return
        time.sleep(0.1)
    raise RuntimeError("munged did not start")


@pytest.fixture(scope="session")
def slurm(tmp_path_factory):
    why = _ready()
    if why:
        pytest.skip(why)
    root = tmp_path_factory.mktemp("slurm")
    for d in ("state", "spool"):
        (root / d).mkdir()
    cpus = os.cpu_count() or 2
    mem_mb = int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**20 * 0.8)
    conf = root / "slurm.conf"
    conf.write_text(slurm_conf(root, cpus, mem_mb))
    env = {**os.environ, "SLURM_CONF": str(conf)}
    _start_munge(root)
    daemons = [subprocess.Popen(["slurmctld", "-D", "-f", str(conf)], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
               subprocess.Popen(["slurmd", "-D", "-f", str(conf), "-N", "localhost"], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        for _ in range(100):
            out = subprocess.run(["sinfo", "-h", "-o", "%T"], env=env, capture_output=True,
                                 text=True).stdout.strip()
            if out in ("idle", "mixed", "allocated"):
                break
            time.sleep(0.2)
        else:
            raise RuntimeError(f"Slurm did not come up: sinfo says {out!r}; "
                               f"{(root / 'slurmctld.log').read_text()[-2000:]}")
        yield env
    finally:
        subprocess.run(["scancel", "--full", "--user", "root"], env=env, capture_output=True)
        time.sleep(1)
        for d in daemons:
            d.terminate()
        for d in daemons:
            try:
                d.wait(timeout=20)
            except subprocess.TimeoutExpired:
                d.kill()
