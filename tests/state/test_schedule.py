from raygen.config.schema import ModelDeviJob
from raygen.state.schedule import expand_job, job_of_iteration, next_job


def jobs(stages):
    return [ModelDeviJob(sys_idx=[0], temps=[100.0], stage=s) for s in stages]


def test_without_convergence_jobs_run_in_order():
    js = jobs([0, 0, 1, 1])
    assert [job_of_iteration(js, i, lambda _: False) for i in range(5)] == [0, 1, 2, 3, None]


def test_converged_iteration_skips_rest_of_stage():
    js = jobs([0, 0, 0, 1, 1, 2])
    assert next_job(js, 0, True) == 3
    converged = {0: True, 1: False, 2: True}
    seq = [job_of_iteration(js, i, lambda k: converged.get(k, False)) for i in range(4)]
    assert seq == [0, 3, 4, 5]
    assert job_of_iteration(js, 4, lambda k: converged.get(k, False)) is None


def test_jobs_without_stage_are_their_own_stage():
    js = [ModelDeviJob(sys_idx=[0], temps=[1.0]) for _ in range(3)]
    assert next_job(js, 0, True) == 1


def test_expand_job_counts_and_ids():
    job = ModelDeviJob(sys_idx=[0, 2], temps=[100, 200], press=[1, 10, 100], ensemble="npt",
                       confs_per_sys=2)
    tasks = expand_job(job, n_confs=[5, 1, 1], iteration=3)
    s0 = [t for t in tasks if t.sys_idx == 0]
    s2 = [t for t in tasks if t.sys_idx == 2]
    assert len(s0) == 2 * 2 * 3 and len(s2) == 1 * 2 * 3
    assert [t.task_id for t in s2][:2] == ["task.002.000000", "task.002.000001"]
    assert len({t.seed for t in tasks}) == len(tasks)


def test_nvt_ignores_pressures():
    job = ModelDeviJob(sys_idx=[0], temps=[100], press=[1, 10], ensemble="nvt")
    tasks = expand_job(job, [3], 0)
    assert len(tasks) == 3 and all(t.press is None for t in tasks)
