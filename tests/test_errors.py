"""A full disk is said as such ("no space left on device in <dir>"), not as a program
that failed: in the messages and, for real, on a small file system."""

import errno
import os
import subprocess
import sys
from pathlib import Path

import pytest

from raygen.__main__ import failure_lines
from raygen.errors import RunError, no_space


def test_no_space_names_the_directory(tmp_path):
    assert no_space(tmp_path) is None  # this disk is not full
    msg = no_space(tmp_path / "not" / "yet", "OSError: [Errno 28] No space left on device")
    assert msg.startswith(f"no space left on device in {tmp_path}")
    assert "MB free" in msg and "run the same command to resume" in msg


def test_the_command_line_says_disk_full(tmp_path):
    err = OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "x.npy"))
    text = failure_lines(err, str(tmp_path), "raygen.log")
    assert f"no space left on device in {tmp_path}" in text and "finished work is kept" in text
    text = failure_lines(RunError("labels failed: [Errno 28] No space left on device: 'a'"),
                         str(tmp_path), "raygen.log")
    assert "no space left on device in" in text


@pytest.fixture
def tiny_fs(tmp_path):
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs",
                                            str(mnt)], capture_output=True).returncode:
        pytest.skip("cannot mount a small tmpfs here (needs root)")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


@pytest.mark.slow
def test_a_run_on_a_full_disk_says_so(tiny_fs, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "raygen", "+exp=cu_smoke",
                           f"workdir={tiny_fs / 'run'}", "progress=false"],
                          capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert proc.returncode == 1
    last = proc.stderr.strip().splitlines()[-2:]
    assert "no space left on device in " + str(tiny_fs) in last[0], proc.stderr[-2000:]
    assert "finished work is kept" in last[1]
    assert Path(tiny_fs / "run" / "raygen.yaml").exists()
