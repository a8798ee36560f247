"""One run per run directory: a second start is refused at once, naming the holder;
a lock left by a killed run is taken over."""

import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from raygen.errors import RunError
from raygen.state.lock import LOCK_FILE, RunLock

HOLD = """
import sys, time
from raygen.state.lock import RunLock
lock = RunLock(sys.argv[1])
lock.acquire()
print("held", flush=True)
time.sleep(600)
"""


def test_second_start_is_refused_and_a_dead_holders_lock_taken_over(tmp_path, caplog):
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(RunError) as err:
            RunLock(tmp_path).acquire()
        msg = str(err.value)
        assert f"in use by process {holder.pid} on host {socket.gethostname()}" in msg
    finally:
        holder.send_signal(signal.SIGKILL)  # dies holding it: no clean release
        holder.wait()
    with caplog.at_level("WARNING", logger="raygen"):
        with RunLock(tmp_path):
            assert f"process {holder.pid}" in caplog.text and "taking it over" in caplog.text
    assert (tmp_path / LOCK_FILE).read_text() == ""  # a clean stop leaves no holder


def test_a_clean_stop_releases_the_lock(tmp_path):
    with RunLock(tmp_path):
        pass
    start = time.time()
    with RunLock(tmp_path) as lock:
        assert lock.holder()["pid"] == os.getpid()
    assert time.time() - start < 1
