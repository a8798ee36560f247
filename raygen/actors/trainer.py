"""Trainer actor: trains and freezes one ensemble member with DeePMD-kit.

Training runs deepmd-kit's own command line (``dp --tf train`` / ``dp --pt train``)
in the member's directory, so its checkpoints, ``lcurve.out`` and logs are exactly
what DeePMD-kit users expect and an interrupted training resumes from its last
checkpoint (``--restart``). The actor asks Ray for the GPU (``num_gpus``) it trains
on; Ray sets ``CUDA_VISIBLE_DEVICES`` for it and the child inherits it.
"""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Optional

import ray

from raygen.actors.threads import set_threads
from raygen.backend import checkpoint_name, dp_flag, frozen_name, has_checkpoint
from raygen.cluster import placement_info
from raygen.results import TrainResult

TRAIN_LOG = "train.log"
FREEZE_LOG = "freeze.log"


def dp_command() -> list[str]:
    """deepmd-kit's CLI from the running interpreter's environment."""
    exe = Path(sys.executable).with_name("dp")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "deepmd"]


def _die_with_parent() -> None:
    """In the child: be killed when the actor process dies (Linux prctl), so a
    killed run leaves no orphan ``dp train`` writing into a directory that the
    resumed run trains in."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:  # not Linux/glibc: nothing to do
        pass


def run_dp(cmd: list[str], cwd: Path, log) -> int:
    return subprocess.run(cmd, cwd=cwd, stdout=log, stderr=subprocess.STDOUT,
                          preexec_fn=_die_with_parent).returncode


def train_member(task_dir: Path, input_dict: dict, graph_path: Path, backend: str,
                 init_model: Optional[Path] = None, member: int = 0) -> TrainResult:
    """Train (or resume), freeze and publish one member; return its timings.

    The frozen model is copied to ``graph_path`` last, atomically: its existence
    is the durable mark that this member is done.
    """
    task_dir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    (task_dir / "input.json").write_text(json.dumps(input_dict, indent=2))
    cmd = [*dp_command(), dp_flag(backend), "train", "input.json"]
    if has_checkpoint(task_dir, backend):
        cmd += ["--restart", checkpoint_name(backend)]
    elif init_model is not None:
        cmd += ["--init-model", str(init_model)]
    with open(task_dir / TRAIN_LOG, "a") as log:
        log.write(f"$ {' '.join(cmd)}\n")
        log.flush()
        code = run_dp(cmd, task_dir, log)
    if code != 0:
        raise RuntimeError(f"dp train failed in {task_dir} (exit {code}); "
                           f"see {task_dir / TRAIN_LOG}")
    t_train = time.perf_counter() - start
    with open(task_dir / FREEZE_LOG, "w") as log:
        code = run_dp([*dp_command(), dp_flag(backend), "freeze", "-o", frozen_name(backend)],
                      task_dir, log)
    if code != 0:
        raise RuntimeError(f"dp freeze failed in {task_dir} (exit {code}); "
                           f"see {task_dir / FREEZE_LOG}")
    tmp = graph_path.with_name(f".{graph_path.name}.tmp")
    shutil.copyfile(task_dir / frozen_name(backend), tmp)
    os.replace(tmp, graph_path)
    return TrainResult(member, t_train, time.perf_counter() - start, last_lcurve(task_dir))


def last_lcurve(task_dir: Path) -> dict:
    """The last line of ``lcurve.out`` as {column: value}."""
    path = task_dir / "lcurve.out"
    if not path.exists():
        return {}
    header, last = None, None
    for line in path.read_text().splitlines():
        if line.startswith("#"):
            if header is None and "step" in line.split():
                header = line.lstrip("#").split()
        elif line.strip():
            last = line.split()
    if not header or not last:
        return {}
    return {k: float(v) for k, v in zip(header, last)}


@ray.remote
class Trainer:
    """One training slot (a GPU on a GPU cluster, ``threads`` cores otherwise)."""

    def __init__(self, threads: int = 1) -> None:
        set_threads(threads)

    def placement(self) -> dict:
        return placement_info()

    def train(self, task_dir: str, input_dict: dict, graph_path: str, backend: str,
              init_model: Optional[str] = None, member: int = 0) -> TrainResult:
        return train_member(Path(task_dir), input_dict, Path(graph_path), str(backend),
                            Path(init_model) if init_model else None, member)
