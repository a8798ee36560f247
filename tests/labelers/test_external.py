"""Running external codes: command lines, threads, time limits that leave nothing behind."""

import os
import time
from pathlib import Path

import numpy as np
import pytest

from raygen.config.merge import deep_merge
from raygen.labelers.external import (
    CodeTimeout,
    format_command,
    kpoint_grid,
    omp_threads,
    run_code,
)


def test_command_gets_the_tasks_cores():
    assert format_command("mpirun -np {cpus} cp2k.psmp -i input.inp", 4) == [
        "mpirun", "-np", "4", "cp2k.psmp", "-i", "input.inp"]
    assert omp_threads("mpirun -np {cpus} pw.x", 4) == 1
    assert omp_threads("pw.x -in pw.in", 4) == 4
    with pytest.raises(ValueError, match="unknown placeholder"):
        format_command("pw.x -nk {pools}", 2)


def test_output_is_kept_and_threads_set(tmp_path):
    run_code(["sh", "-c", "echo threads=$OMP_NUM_THREADS; echo oops >&2; exit 3"],
             tmp_path, 2, timeout=30)
    assert (tmp_path / "stdout.log").read_text() == "threads=2\n"
    assert (tmp_path / "stderr.log").read_text() == "oops\n"
    assert run_code(["sh", "-c", "exit 3"], tmp_path, 1, timeout=30).returncode == 3


def sleepers(marker: str) -> list[int]:
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if marker.encode() in cmd and b"sleep" in cmd:
            found.append(int(pid))
    return found


def test_timeout_kills_the_whole_process_tree(tmp_path):
    """A code that hangs, with children of its own (as MPI ranks are): all gone."""
    start = time.time()
    with pytest.raises(CodeTimeout, match="time limit of 1 s"):
        run_code(["sh", "-c", "sleep 4711 & sleep 4711 & wait"], tmp_path, 1, timeout=1)
    assert time.time() - start < 20
    deadline = time.time() + 5
    while sleepers("4711") and time.time() < deadline:
        time.sleep(0.1)
    assert sleepers("4711") == []


def test_kpoint_grid_follows_kspacing():
    assert kpoint_grid(np.eye(3) * 3.61, 0.3) == [6, 6, 6]  # |b| = 2π/3.61 = 1.74 1/Å
    assert kpoint_grid(np.diag([3.61, 3.61, 20.0]), 0.9) == [2, 2, 1]


def test_deep_merge_keeps_what_is_not_overridden():
    base = {"DFT": {"SCF": {"MAX_SCF": 50, "EPS_SCF": 1e-6}, "XC": "PBE"}}
    assert deep_merge(base, {"DFT": {"SCF": {"MAX_SCF": 200}}}) == {
        "DFT": {"SCF": {"MAX_SCF": 200, "EPS_SCF": 1e-6}, "XC": "PBE"}}
