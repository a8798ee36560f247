"""One run per run directory: an exclusive lock held while a run works in it.

A Slurm requeue, a user resubmitting, a retried RayJob: on clusters the same run
gets started twice, and two drivers in one run directory write duplicate record
lines and mismatched files. The lock is ``flock`` on ``<workdir>/raygen.lock``
(on NFS, Linux turns it into a byte-range lock the server arbitrates across hosts;
unlike a plain POSIX record lock, closing another descriptor of the file does not
drop it); the file also says who holds it (host, pid, start time, command), so a
second start is refused at once with that in the message. The kernel (or the NFS
server, when the client's lease expires) releases the lock of a process that died,
so a lock left by a killed run is taken over by the next start, which says so.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import socket
import sys
import time
from pathlib import Path

from raygen.errors import RunError

log = logging.getLogger("raygen")

LOCK_FILE = "raygen.lock"


class RunLock:
    """Hold the run directory ``root`` exclusively (``with RunLock(root): ...``)."""

    def __init__(self, root: Path) -> None:
        self.path = Path(root) / LOCK_FILE
        self.fd: int | None = None

    def holder(self) -> dict:
        try:
            return json.loads(self.path.read_text() or "{}")
        except (OSError, ValueError):
            return {}

    def is_held(self) -> bool:
        """Whether a live run holds the lock now (tried without taking it)."""
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except OSError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            fcntl.flock(fd, fcntl.LOCK_UN)
            return False
        except OSError:
            return True
        finally:
            os.close(fd)

    def acquire(self) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            h = self.holder()
            raise RunError(
                f"run directory {self.path.parent} is in use by process {h.get('pid', '?')} "
                f"on host {h.get('host', '?')} (started {h.get('started', '?')}: "
                f"{h.get('command', '?')}); stop that run first, or choose another "
                "workdir") from None
        previous = self.holder()
        if previous:
            log.warning("run directory lock of process %s on host %s (started %s) was "
                        "released without a clean stop; taking it over", previous.get("pid"),
                        previous.get("host"), previous.get("started"))
        me = {"host": socket.gethostname(), "pid": os.getpid(),
              "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
              "command": " ".join(sys.argv)}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(me).encode(), 0)
        os.fsync(fd)
        self.fd = fd

    def release(self) -> None:
        if self.fd is None:
            return
        os.ftruncate(self.fd, 0)  # a clean stop leaves no holder behind
        fcntl.flock(self.fd, fcntl.LOCK_UN)
        os.close(self.fd)
        self.fd = None

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()
