"""lsf/raygen.lsf without LSF (none here): shellcheck, its host-list helpers, and a
whole job with a fake ``blaunch`` that runs the host commands on this machine — a
two-host Ray cluster, the token passed as a file path, bkill's SIGINT stopping it
keeping finished work with nothing of its Ray left, and a resubmission that finishes."""

import signal

import pytest

from tests import batch_jobs as jobs
from tests.test_end_to_end import records


def test_shellcheck_finds_no_warning():
    assert jobs.shellcheck(jobs.LSF) == ""


def test_hosts_and_slots_are_read_as_lsf_writes_them(tmp_path):
    env = jobs.job_env("lsf", tmp_path, "77", {"hostA": 4, "hostB": 8})
    hosts = jobs.source_functions(jobs.LSF, 'hosts_of "$LSB_MCPU_HOSTS"', env)
    assert hosts.split() == ["hostA", "hostB"]
    assert jobs.source_functions(jobs.LSF, 'slots_on "$LSB_MCPU_HOSTS" hostB', env).strip() == "8"


@pytest.mark.slow
def test_an_lsf_job_runs_on_two_hosts_stops_on_bkill_and_resumes(tmp_path):
    job = "7777"
    run = tmp_path / "run"
    # one iteration (and the final training): what is tested is the job script
    args = f"+exp=cu_smoke workdir={run} progress=false max_iter=1 train.numb_steps=100"
    env = jobs.job_env("lsf", tmp_path, job, {"hostA": 2, "hostB": 1})
    try:
        proc = jobs.start_job("lsf", env, args, tmp_path / "job1.log")
        jobs.wait_for(lambda: (run / "record.raygen").exists() and records(run), 300,
                 "the first finished step")
        proc.send_signal(signal.SIGINT)  # bkill's first signal
        assert proc.wait(timeout=120) == 143, (tmp_path / "job1.log").read_text()[-3000:]
        out = (tmp_path / "job1.log").read_text()
        assert "2 node(s): hostA hostB" in out and "stopping the run" in out
        fake = (tmp_path / "fake.log").read_text()
        assert "RAY_AUTH_TOKEN_PATH=" in fake and "--address=" in fake
        assert not jobs.token_on_a_command_line(tmp_path)
        assert not (tmp_path / "home" / ".raygen" / "jobs" / job).exists()
        jobs.wait_for(lambda: not jobs.ray_processes(job), 20, "the job's Ray to stop")
        done = records(run)
        assert (0, 8) not in done

        proc = jobs.start_job("lsf", env, args, tmp_path / "job2.log")
        assert proc.wait(timeout=900) == 0, (tmp_path / "job2.log").read_text()[-3000:]
        assert set(done) <= set(records(run)) and (0, 8) in records(run)
        jobs.wait_for(lambda: not jobs.ray_processes(job), 20, "the job's Ray to stop")
    finally:
        jobs.cleanup(job)
