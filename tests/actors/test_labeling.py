"""A labelling task whose worker is killed (kill -9) is run again by Ray and
its label lands once, complete."""

import os
import signal
import time
from pathlib import Path

import ray
from ase.build import bulk

from raygen.actors.labeling import label_frame_task, read_outcome
from raygen.labelers import LabelStatus
from raygen.labelers.emt import EmtLabelConfig


def parent(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def ours(pid: int) -> bool:
    """Whether ``pid`` descends from this process (its Ray's raylet, not the Ray of a
    test running beside this one under pytest-xdist)."""
    while pid > 1:
        pid = parent(pid)
        if pid == os.getpid():
            return True
    return False


def label_worker_pids():
    pids = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            title = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0]
            if title.startswith(b"ray::label_frame") and ours(int(pid)):
                pids.append(int(pid))
        except (OSError, ValueError, IndexError):
            continue  # the process ended meanwhile
    return pids


def test_killed_labelling_task_is_retried(local_ray, tmp_path):
    atoms = bulk("Cu", "fcc", a=3.6, cubic=True).repeat((18, 18, 18))  # 23k atoms: seconds
    ref = label_frame_task.options(num_cpus=1, max_retries=2).remote(
        EmtLabelConfig(), atoms, str(tmp_path / "task"), 1)
    deadline = time.time() + 60
    while not label_worker_pids() and time.time() < deadline:
        time.sleep(0.05)
    assert label_worker_pids(), "the labelling task never started"
    os.kill(label_worker_pids()[0], signal.SIGKILL)
    outcome = ray.get(ref, timeout=300)
    assert outcome.status is LabelStatus.CONVERGED
    stored = read_outcome(tmp_path / "task")
    assert stored.status is LabelStatus.CONVERGED and len(stored.atoms) == len(atoms)
