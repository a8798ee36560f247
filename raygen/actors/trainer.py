"""Trainer actor: trains and freezes one ensemble member with DeePMD-kit.

Training runs deepmd-kit's own command line (``dp --tf train`` / ``dp --pt train``)
in the member's directory, so its checkpoints, ``lcurve.out`` and logs are exactly
what DeePMD-kit users expect and an interrupted training resumes from its last
checkpoint (``--restart``). The actor asks Ray for the GPU (``num_gpus``) it trains
on; Ray sets ``CUDA_VISIBLE_DEVICES`` for it and the child inherits it.

Each command runs in a child forked from the actor's
warm deepmd-kit server (:mod:`raygen.actors.dp_server`), which imported deepmd-kit
once: same arguments, same logs, same models, without the ~6 s interpreter and
TensorFlow start of every ``dp`` process.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import ray

from raygen.actors.dp_server import PRELOAD, WarmDP, die_with_parent
from raygen.actors.threads import set_threads
from raygen.atomic import atomic_write_text
from raygen.cluster import placement_info
from raygen.config.backend import checkpoint_name, dp_flag, frozen_name, has_checkpoint
from raygen.errors import no_space
from raygen.labelers.kit import tail
from raygen.results import TrainResult
from raygen.state.workdir import TRAIN_INPUT, compress_work_dir

TRAIN_LOG = "train.log"
FREEZE_LOG = "freeze.log"


def dp_command() -> list[str]:
    """deepmd-kit's CLI from the running interpreter's environment."""
    exe = Path(sys.executable).with_name("dp")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "deepmd"]


def run_dp(args: list[str], cwd: Path, log_path: Path, runner: Optional[WarmDP] = None) -> int:
    """``dp <args>`` in ``cwd``, output appended to ``log_path``: in a child of the
    warm ``runner`` when given (no interpreter start), else as its own process."""
    if runner is not None:
        return runner.run(args, str(cwd), str(log_path))
    with open(log_path, "a") as log:
        return subprocess.run([*dp_command(), *args], cwd=cwd, stdout=log,
                              stderr=subprocess.STDOUT, preexec_fn=die_with_parent).returncode


@dataclass(frozen=True)
class Start:
    """Where a member's weights start when it has no checkpoint of its own: new weights
    (nothing set), a checkpoint to continue from (``init_model``: ``dp train
    --init-model``), or a pre-trained model to fine-tune (``finetune``: ``dp train
    --finetune``, ``branch`` its ``--model-branch``). ``pretrained_script``: the model's
    architecture is the checkpoint's, not the input's (``--use-pretrain-script``)."""

    init_model: Optional[str] = None
    finetune: Optional[str] = None
    branch: Optional[str] = None
    pretrained_script: bool = False

    def args(self) -> list[str]:
        if self.finetune:
            out = ["--finetune", self.finetune]
            if self.branch:
                out += ["--model-branch", self.branch]
        elif self.init_model:
            out = ["--init-model", self.init_model]
        else:
            return []
        return out + (["--use-pretrain-script"] if self.pretrained_script else [])


def train_member(task_dir: Path, input_dict: dict, graph_path: Path, backend: str,
                 start: Optional[Start] = None, member: int = 0,
                 runner: Optional[WarmDP] = None,
                 skip_neighbor_stat: bool = False) -> TrainResult:
    """Train (or resume), freeze and publish one member; return its timings
    (``start``: where its weights start, see :class:`Start`; ``runner``: a warm
    deepmd-kit to run the commands in, see :mod:`dp_server`; ``skip_neighbor_stat``:
    ``dp train --skip-neighbor-stat``, see ``train.neighbor_stat``).

    The frozen model is copied to ``graph_path`` last, atomically: its existence
    is the durable mark that this member is done.
    """
    task_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    # the one writer of a member's input.json (on the node that trains it); the make
    # step's copy in a run directory is the same text, left alone when unchanged
    inp, text = task_dir / TRAIN_INPUT, json.dumps(input_dict, indent=2)
    if not inp.exists() or inp.read_text() != text:
        atomic_write_text(inp, text)
    args = [dp_flag(backend), "train", TRAIN_INPUT]
    if has_checkpoint(task_dir, backend):
        args += ["--restart", checkpoint_name(backend)]
    elif start is not None:
        args += start.args()
    if skip_neighbor_stat:
        args.append("--skip-neighbor-stat")
    with open(task_dir / TRAIN_LOG, "a") as log:
        log.write(f"$ dp {' '.join(args)}\n")
    code = run_dp(args, task_dir, task_dir / TRAIN_LOG, runner)
    if code != 0:
        full = no_space(task_dir, tail(task_dir / TRAIN_LOG, 30))
        raise RuntimeError(f"dp train failed in {task_dir} (exit {code}): {full}" if full
                           else f"dp train failed in {task_dir} (exit {code}); "
                           f"see {task_dir / TRAIN_LOG}")
    t_train = time.perf_counter() - t0
    (task_dir / FREEZE_LOG).unlink(missing_ok=True)
    code = run_dp([dp_flag(backend), "freeze", "-o", frozen_name(backend)], task_dir,
                  task_dir / FREEZE_LOG, runner)
    if code != 0:
        full = no_space(task_dir, tail(task_dir / FREEZE_LOG, 30))
        raise RuntimeError(f"dp freeze failed in {task_dir} (exit {code}): {full}" if full
                           else f"dp freeze failed in {task_dir} (exit {code}); "
                           f"see {task_dir / FREEZE_LOG}")
    tmp = graph_path.with_name(f".{graph_path.name}.tmp")
    shutil.copyfile(task_dir / frozen_name(backend), tmp)
    os.replace(tmp, graph_path)
    loop_s = training_wall_time(task_dir / TRAIN_LOG)
    return TrainResult(member, t_train, time.perf_counter() - t0, last_lcurve(task_dir),
                       compute_s=t_train if loop_s is None else loop_s)


def training_wall_time(log_path: Path) -> Optional[float]:
    """The seconds deepmd-kit's training itself took (its ``wall time:`` line) in the
    last ``dp train`` of ``log_path``: the compute of a member, without the process
    start, neighbour statistics and freezing around it. None when it is not there."""
    text = log_path.read_text(errors="replace") if log_path.exists() else ""
    last_run = re.split(r"(?m)^\$ ", text)[-1]  # each command's output follows "$ dp ..."
    found = re.findall(r"wall time: ([0-9.]+) s", last_run)
    return float(found[-1]) if found else None


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


def compress_model(src: Path, dst: Path, backend: str, threads: int = 1,
                   runner: Optional[WarmDP] = None) -> tuple[Optional[str], float]:
    """``dp compress`` ``src`` into ``dst`` (published atomically, last); returns
    (None or the end of deepmd-kit's log on failure, seconds). ``runner``: a warm
    deepmd-kit (a lane's) to run it in, instead of a ``dp`` process of its own."""
    start = time.perf_counter()
    work = compress_work_dir(dst)
    work.mkdir(parents=True, exist_ok=True)
    tmp = work / dst.name
    args = [dp_flag(backend), "compress", "-i", str(Path(src).resolve()), "-o", tmp.name]
    (work / "compress.log").unlink(missing_ok=True)
    if runner is not None:
        code = runner.run(args, str(work), str(work / "compress.log"))
    else:
        env = {**os.environ, "OMP_NUM_THREADS": str(threads),
               "DP_INTRA_OP_PARALLELISM_THREADS": str(threads),
               "DP_INTER_OP_PARALLELISM_THREADS": str(threads)}
        with open(work / "compress.log", "w") as logf:
            code = subprocess.run([*dp_command(), *args], cwd=work, stdout=logf,
                                  stderr=subprocess.STDOUT, env=env,
                                  preexec_fn=die_with_parent).returncode
    if code != 0 or not tmp.exists():
        tail = (work / "compress.log").read_text().strip().splitlines()[-3:]
        return f"dp compress exited {code}: {' | '.join(tail)}", time.perf_counter() - start
    os.replace(tmp, dst)
    return None, time.perf_counter() - start


class TrainerWorker:
    """One training slot (a GPU on a GPU cluster, ``threads`` cores otherwise); the
    :class:`Trainer` actor, or a :class:`~raygen.actors.lane.Lane`, hosts it."""

    def __init__(self, threads: int = 1) -> None:
        set_threads(threads)
        self.threads = int(threads)
        self.runners: dict[str, WarmDP] = {}

    def runner(self, backend: str) -> Optional[WarmDP]:
        """The warm deepmd-kit of ``backend`` (both backends: the server imports
        deepmd-kit and the framework once and has run no computation when it forks)."""
        flag = dp_flag(backend)
        if flag not in PRELOAD:
            return None
        if flag not in self.runners:
            self.runners[flag] = WarmDP(flag)
        return self.runners[flag]

    def compress(self, src: str, dst: str, backend: str) -> tuple[Optional[str], float]:
        """``dp compress`` of the MD model, in this worker's warm deepmd-kit."""
        return compress_model(Path(src), Path(dst), backend, self.threads,
                              self.runner(backend))

    def placement(self) -> dict:
        return placement_info()

    def train(self, task_dir: str, input_dict: dict, graph_path: str, backend: str,
              start: Optional[Start] = None, member: int = 0,
              skip_neighbor_stat: bool = False) -> TrainResult:
        return train_member(Path(task_dir), input_dict, Path(graph_path), str(backend),
                            start, member, self.runner(str(backend)), skip_neighbor_stat)


@ray.remote
class Trainer(TrainerWorker):
    """A Ray actor of its own for training (see :class:`TrainerWorker`)."""
