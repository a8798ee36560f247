"""pbs/raygen.pbs without PBS (none here): shellcheck, its node-file and wall-time
helpers, and whole jobs with a fake ``pbsdsh`` / ``qstat`` that run the node commands on
this machine — a two-"node" Ray cluster, the token passed as a file path (never the
token on a command line), the wall-time stop two minutes early (here: seconds) keeping
finished work, nothing of the job's Ray left, and a resubmission that finishes."""

import json

import pytest

from tests import batch_jobs as jobs
from tests.test_end_to_end import records


def test_shellcheck_finds_no_warning():
    assert jobs.shellcheck(jobs.PBS) == ""


def test_nodes_slots_and_walltime_are_read_as_pbs_writes_them(tmp_path):
    env = jobs.job_env("pbs", tmp_path, "41", {"cn07": 3, "cn02": 2}, FAKE_WALLTIME="01:02:03")
    nodes = jobs.source_functions(jobs.PBS, 'unique_nodes "$PBS_NODEFILE"', env)
    assert nodes.split() == ["cn07", "cn02"]
    assert jobs.source_functions(jobs.PBS, 'slots_on "$PBS_NODEFILE" cn02', env).strip() == "2"
    assert jobs.source_functions(jobs.PBS, "walltime_s", env).strip() == str(3600 + 2 * 60 + 3)
    assert jobs.source_functions(jobs.PBS, "pbs_flavour", env).strip() == "pro"  # qstat --version
    assert jobs.source_functions(jobs.PBS, "pbs_flavour", {**env, "RAYGEN_PBS_FLAVOUR": "torque"}
                            ).strip() == "torque"


@pytest.mark.slow
def test_a_pbs_job_runs_on_two_nodes_stops_at_its_walltime_and_resumes(tmp_path):
    job = "4242"
    run = tmp_path / "run"
    # one iteration (and the final training): what is tested is the job script
    args = f"+exp=cu_smoke workdir={run} progress=false max_iter=1 train.numb_steps=100"
    # a 90 s wall time with a 60 s margin: the script stops itself after 30 s, in the run
    env = jobs.job_env("pbs", tmp_path, job, {"nodeA": 2, "nodeB": 1},
                  FAKE_WALLTIME="00:01:30", RAYGEN_STOP_BEFORE_S="60")
    try:
        proc = jobs.start_job("pbs", env, args, tmp_path / "job1.log")
        assert proc.wait(timeout=240) == 143, (tmp_path / "job1.log").read_text()[-3000:]
        out = (tmp_path / "job1.log").read_text()
        assert "2 node(s): nodeA nodeB" in out and "stopping the run" in out
        fake = (tmp_path / "fake.log").read_text()
        token_file = tmp_path / "home" / ".raygen" / "jobs" / job / "auth_token"
        assert f"RAY_AUTH_TOKEN_PATH={token_file}" in fake and "--address=" in fake
        assert not jobs.token_on_a_command_line(tmp_path)
        assert not token_file.parent.exists(), "the token outlived the job"
        jobs.wait_for(lambda: not jobs.ray_processes(job), 20, "the job's Ray to stop")
        done = records(run)
        assert done and (0, 8) not in done

        # submitted again (no wall-time stop): it finishes what is left
        env.pop("FAKE_WALLTIME")
        proc = jobs.start_job("pbs", env, args, tmp_path / "job2.log")
        assert proc.wait(timeout=900) == 0, (tmp_path / "job2.log").read_text()[-3000:]
        assert set(done) <= set(records(run)) and (0, 8) in records(run)
        assert json.loads((run / "models" / "manifest.json").read_text())
        jobs.wait_for(lambda: not jobs.ray_processes(job), 20, "the job's Ray to stop")
    finally:
        jobs.cleanup(job)
