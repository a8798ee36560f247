"""``label.proceed_ratio`` < 1: the iteration moves on when enough labels are done;
the rest keep running and join a later training — none dropped, none twice.

A synthetic run directory (as in test_steps_glue) and a real local Ray; the labeler
is ``label=custom`` running a small EMT script that sleeps in the tasks marked slow.
"""

import json
import sys
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import ray
from hydra import compose, initialize_config_module

from raygen.config.schema import register_configs
from raygen.science.dataset import count_frames, deepmd_systems
from raygen.science.deviation import write_model_devi
from raygen.science.frames import frames_table
from raygen.selection.budget import proceed_count
from raygen.state.context import RunContext
from raygen.state.verify import _check_outcomes
from raygen.state.workdir import OUTCOME_FILE, RunDir
from raygen.steps import late_labels
from raygen.steps.explore import post_model_devi
from raygen.steps.label import fp_tasks, make_fp, post_fp, run_fp
from raygen.steps.train import training_systems

register_configs()

SCRIPT = """\
import os, time
from ase.calculators.emt import EMT
from ase.io import read, write
if os.path.exists("../slow." + os.path.basename(os.getcwd())):
    time.sleep(6)
atoms = read("input.extxyz")
atoms.calc = EMT()
atoms.get_potential_energy()
atoms.get_forces()
write("output.extxyz", atoms)
"""


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture
def ctx(tmp_path, local_ray):
    script = tmp_path / "emt_label.py"
    script.write_text(SCRIPT)
    with initialize_config_module(version_base=None, config_module="raygen.conf"):
        cfg = compose(config_name="config", overrides=[
            "+exp=cu_smoke", f"workdir={tmp_path / 'run'}", "label=custom",
            f"label.command={sys.executable} {script}", "label.proceed_ratio=0.5",
            "progress=false"])
    rd = RunDir(tmp_path / "run")
    ctx = RunContext(cfg, rd, confs={0: [Path("a"), Path("b")], 1: [Path("a"), Path("b")]})
    rng = np.random.default_rng(42)
    for t in ctx.md_tasks(0, cfg.explore.jobs[0]):
        rd.md_task(0, t.task_id).mkdir(parents=True)
        n = 31
        steps = np.arange(n) * 10
        base = np.array([[0, 0, 0], [0, 1.8, 1.8], [1.8, 0, 1.8], [1.8, 1.8, 0]])
        pq.write_table(frames_table(t.task_id, t.sys_idx, steps,
                                    np.tile(np.eye(3) * 3.6, (n, 1, 1)),
                                    base + rng.normal(0, 0.05, (n, 4, 3)),
                                    np.zeros(4, int)), rd.traj(0, t.task_id))
        write_model_devi(rd.model_devi_out(0, t.task_id), steps,
                         np.exp(rng.uniform(np.log(0.005), np.log(0.5), (n, 7))))
    return ctx


def test_proceed_count():
    assert [proceed_count(10, r) for r in (1.0, 0.9, 0.5, 0.01)] == [10, 9, 5, 1]
    assert proceed_count(0, 0.5) == 0


def test_late_labels_join_the_next_training_and_none_is_lost(ctx):
    rd, job = ctx.rundir, ctx.cfg.explore.jobs[0]
    post_model_devi(ctx, 0, job)
    make_fp(ctx, 0, job)
    tasks = fp_tasks(ctx, 0)
    slow = {t["fp_task"] for t in tasks[len(tasks) // 2:]}
    for name in slow:
        (rd.fp(0) / f"slow.{name}").touch()

    run_fp(ctx, 0, job)
    done = {t["fp_task"] for t in tasks
            if (rd.fp_task_dir(0, t["fp_task"]) / OUTCOME_FILE).exists()}
    assert len(done) >= proceed_count(len(tasks), 0.5)
    assert {name for _, name in late_labels.running(ctx)} == \
        {t["fp_task"] for t in tasks} - done
    assert late_labels.running(ctx), "the slow tasks are still running when the iteration moves on"
    assert _check_outcomes(ctx, 0)  # a resume accepts run_fp as done with tasks running

    collected = post_fp(ctx, 0, job)
    late = {e["fp_task"] for e in collected["late"]}
    assert late and late <= slow
    assert collected["label_status"]["late"] == len(late)
    assert count_frames(deepmd_systems(rd.fp(0))) == len(tasks) - len(late)

    late_labels.settle(ctx, 1)  # what the final training waits for
    assert all((rd.fp_task_dir(0, t["fp_task"]) / OUTCOME_FILE).exists() for t in tasks)
    assert late_labels.collect(ctx, 1) == len(late)
    record = json.loads(rd.late_labels(1).read_text())
    assert {e["fp_task"] for e in record["collected"]} == late
    assert late_labels.pending(ctx, 1) == [] and late_labels.pending(ctx, 2) == []
    # every label in exactly one training data set of iteration 1
    systems = training_systems(ctx, 1)
    assert count_frames([s for s in systems if "iter.000000" in str(s)]) == len(tasks) - len(late)
    assert count_frames([s for s in systems if "data.late" in str(s)]) == len(late)
    assert late_labels.collect(ctx, 1) == len(late)  # once only


def test_late_tasks_stopped_by_a_restart_are_submitted_again(ctx):
    rd, job = ctx.rundir, ctx.cfg.explore.jobs[0]
    post_model_devi(ctx, 0, job)
    make_fp(ctx, 0, job)
    tasks = fp_tasks(ctx, 0)
    for name in (t["fp_task"] for t in tasks[len(tasks) // 2:]):
        (rd.fp(0) / f"slow.{name}").touch()
    run_fp(ctx, 0, job)
    post_fp(ctx, 0, job)
    late = {e["fp_task"] for e in json.loads(rd.collected(0).read_text())["late"]}
    finished = {t["fp_task"]: (rd.fp_task_dir(0, t["fp_task"]) / OUTCOME_FILE).stat().st_mtime
                for t in tasks if t["fp_task"] not in late}
    for ref in ctx.late_running.values():  # the driver dies: its tasks with it
        ray.cancel(ref, force=True)
    restarted = RunContext(ctx.cfg, rd, confs=ctx.confs)
    for name in late:  # fast from now on (a task slowed by a retried worker may be late too)
        (rd.fp(0) / f"slow.{name}").unlink(missing_ok=True)
    pending = late_labels.pending(restarted, 1)
    assert {e["fp_task"] for e in pending} == late
    late_labels.settle(restarted, 1)
    assert late_labels.collect(restarted, 1) == len(late)
    for name, mtime in finished.items():  # no finished label is redone
        assert (rd.fp_task_dir(0, name) / OUTCOME_FILE).stat().st_mtime == mtime
