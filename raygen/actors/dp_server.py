"""A warm deepmd-kit command line: import deepmd-kit once, fork once per command.

``dp train`` and ``dp freeze`` each start a Python process that spends ~6–7 s
importing TensorFlow and deepmd-kit before doing any work (measured on the cu-quick
workload: ~10 s of each member's ~42 s ``dp train`` and ~6 s of its ``dp freeze``
were that; with PyTorch ~1.5 s of a 100-step ``dp --pt train``, whose ``dp --pt
freeze`` is TorchScript compilation, not import). A :class:`WarmDP` starts one
server process per Trainer actor that imports deepmd-kit's backend once; each
command then runs in a child forked from it, exactly as ``dp <args>`` would (same
arguments, same working directory, stdout and stderr into the same log file, the
same exit status) but without the start-up. The child is forked from a single-
threaded process that has run no TensorFlow session or torch computation, so it
starts clean; a command that crashes the child takes only the child down.

Protocol (one JSON line each way): ``{"argv": [...], "cwd": ..., "log": ...}`` →
``{"rc": int}``. Every process in the chain dies with its parent (Linux
``PR_SET_PDEATHSIG``): a killed actor leaves no training behind.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import subprocess
import sys
import traceback
from typing import Optional

# what ``dp --<backend> train/freeze`` imports, loaded once by the server
PRELOAD = {"--tf": ["deepmd.main", "deepmd.tf.entrypoints.main", "deepmd.tf.train.trainer",
                    "deepmd.tf.entrypoints.freeze"],
           "--pt": ["deepmd.main", "deepmd.pt.entrypoints.main"]}


def die_with_parent() -> None:
    """This process is killed when its parent dies (Linux prctl; elsewhere a no-op)."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def _run_child(req: dict) -> None:
    """In the forked child: ``dp <argv>`` in ``cwd``, output to ``log``; never returns."""
    rc = 1
    try:
        die_with_parent()
        os.chdir(req["cwd"])
        fd = os.open(req["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.close(fd)
        from deepmd.main import main

        try:
            main(list(req["argv"]))
            rc = 0
        except SystemExit as exc:
            rc = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except BaseException:  # noqa: BLE001 - reported in the log, as dp would
            traceback.print_exc()
            rc = 1
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # noqa: BLE001
                pass
        os._exit(rc)


def serve(flag: str) -> None:
    """The server: preload the backend, then one forked child per request line."""
    die_with_parent()
    for name in PRELOAD.get(flag, ["deepmd.main"]):
        __import__(name)
    proto = sys.stdout
    sys.stdout = sys.stderr  # nothing but replies on the protocol stream
    for line in sys.stdin:
        req = json.loads(line)
        pid = os.fork()
        if pid == 0:
            _run_child(req)
        _, status = os.waitpid(pid, 0)
        proto.write(json.dumps({"rc": os.waitstatus_to_exitcode(status)}) + "\n")
        proto.flush()


class WarmDP:
    """Client side: ``run(argv, cwd, log_path)`` → exit status, like ``dp <argv>``."""

    def __init__(self, flag: str) -> None:
        self.flag = flag
        self.proc: Optional[subprocess.Popen] = None

    def _start(self) -> subprocess.Popen:
        if self.proc is None or self.proc.poll() is not None:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "raygen.actors.dp_server", self.flag],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                preexec_fn=die_with_parent)
        return self.proc

    def run(self, argv: list[str], cwd: str, log_path: str) -> int:
        proc = self._start()
        try:
            proc.stdin.write(json.dumps({"argv": argv, "cwd": str(cwd),
                                         "log": str(log_path)}) + "\n")
            proc.stdin.flush()
            reply = proc.stdout.readline()
        except BrokenPipeError:
            reply = ""
        if not reply:
            code = proc.wait()
            self.proc = None
            raise RuntimeError(f"the deepmd-kit server died (exit {code}) running "
                               f"dp {' '.join(argv)} in {cwd}; see {log_path}")
        return int(json.loads(reply)["rc"])

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.proc = None


if __name__ == "__main__":
    serve(sys.argv[1])
