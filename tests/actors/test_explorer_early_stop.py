"""explore.early_stop on real LAMMPS + DeePMD: the MD runs in pieces, LAMMPS writes the
ensemble's deviation as it goes, and a task whose ensemble gives up ends (or goes on
from its last trusted frame with new velocities)."""

import json

import numpy as np
import pytest
import ray

from raygen.actors.evaluator import Evaluator
from raygen.actors.explorer import Explorer
from raygen.engines.lammps import LammpsEngine, LammpsExploreConfig
from raygen.engines.lammps_input import DEVI_FILE, read_lammps_devi
from raygen.selection.early_stop import STOPPED_FILE, StopRule, frames_not_run
from raygen.state.schedule import MDTask
from tests.conftest import cu_frames

NSTEPS, TRJ = 200, 10


@pytest.fixture(scope="module")
def explorer(local_ray):
    return Explorer.remote(LammpsExploreConfig(), ["Cu"])


def run_task(explorer, tmp_path, name, models, rule=None):
    task = MDTask(name, 0, 0, 600.0, 1.0, "npt", NSTEPS, TRJ, seed=11)
    d = tmp_path / name
    d.mkdir()
    LammpsEngine(LammpsExploreConfig(), ["Cu"]).write_task(
        d, cu_frames(n_perturb=1, md_steps=0)[0], task, models, rule)
    info, table = ray.get(explorer.run.remote(str(d), name, 0, str(d / "traj.parquet")))
    assert info.error is None, info.error
    return d, table


def positions(table):
    return np.array([np.asarray(p) for p in table.column("positions").to_pylist()])


def rule(f_hi, **kw):
    return StopRule(f_hi=f_hi, nsteps=NSTEPS, trj_freq=TRJ, seed=11, **kw)


def test_a_task_whose_ensemble_gives_up_ends_and_the_rest_is_the_same_md(
        explorer, tiny_models, tmp_path):
    plain_dir, plain = run_task(explorer, tmp_path, "task.000.000000", tiny_models)
    # watched, but never failing: the MD in pieces is the same MD as in one run
    never_dir, never = run_task(explorer, tmp_path, "task.000.000001", tiny_models,
                                rule(1e9, failed_frames=1, check_every=3))
    assert never.column("step").to_pylist() == list(range(0, NSTEPS + 1, TRJ))
    np.testing.assert_allclose(positions(never), positions(plain), atol=1e-6)
    assert not (never_dir / STOPPED_FILE).exists() and frames_not_run(never_dir) == 0
    # LAMMPS's deviation of each frame is the deviation reducer's (one per step)
    steps, devi, _ = read_lammps_devi(never_dir / DEVI_FILE)
    unique = dict(zip(steps.tolist(), devi.tolist()))
    assert sorted(unique) == never.column("step").to_pylist()
    reduced = ray.get(Evaluator.remote([str(m) for m in tiny_models]).evaluate.remote(never))
    np.testing.assert_allclose([unique[s] for s in reduced.column("step").to_pylist()],
                               reduced.column("max_devi_f").to_numpy(), rtol=1e-4, atol=1e-6)

    # every frame failed: three in a row end the task at the first check that sees them
    # (the first piece of 2 x 10 steps records steps 0, 10 and 20)
    stop_dir, stopped = run_task(explorer, tmp_path, "task.000.000002", tiny_models,
                                 rule(1e-9, failed_frames=3, check_every=2))
    assert stopped.column("step").to_pylist() == [0, 10, 20]
    np.testing.assert_allclose(positions(stopped), positions(plain)[:3], atol=1e-6)
    record = json.loads((stop_dir / STOPPED_FILE).read_text())
    assert record["step"] == 20 and record["frames_run"] == 3
    assert record["frames_not_run"] == frames_not_run(stop_dir) == NSTEPS // TRJ + 1 - 3
    assert "3 consecutive frames" in record["reason"]

    # a share of the frames: failed_ratio
    ratio_dir, by_ratio = run_task(explorer, tmp_path, "task.000.000003", tiny_models,
                                   rule(1e-9, failed_ratio=0.25, check_every=1))
    assert by_ratio.num_rows == 6  # 6 >= 0.25 x 21 planned frames
    assert "failed_ratio 0.25" in json.loads((ratio_dir / STOPPED_FILE).read_text())["reason"]


def test_a_stopped_task_goes_on_from_its_last_trusted_frame(explorer, tiny_models, tmp_path):
    _, plain = run_task(explorer, tmp_path, "task.000.000000", tiny_models)
    reduced = ray.get(Evaluator.remote([str(m) for m in tiny_models]).evaluate.remote(plain))
    devi = reduced.column("max_devi_f").to_numpy()
    # a level the first frame is below and a later one above: the task stops at that one
    ranked = np.sort(devi)
    f_hi = float(ranked[len(devi) // 2 - 1] + ranked[len(devi) // 2]) / 2  # between two
    first_failed = int(np.flatnonzero(devi >= f_hi)[0])
    assert devi[0] < f_hi and first_failed > 0
    d, table = run_task(explorer, tmp_path, "task.000.000001", tiny_models,
                        rule(f_hi, failed_frames=1, check_every=1, restarts=2))
    steps = table.column("step").to_pylist()
    assert steps == sorted(set(steps)), "one frame per step, in order"
    assert steps[:first_failed + 1] == list(range(0, TRJ * (first_failed + 1), TRJ))
    restart = (d / "in.restart.1.lammps").read_text()
    assert f"reset_timestep  {TRJ * first_failed}" in restart
    assert f"run             {NSTEPS - TRJ * first_failed}" in restart
    seed = rule(f_hi).restart_seed(1)
    assert f"velocity        all create 600.0 {seed} " in restart
    # the restart starts from the last trusted frame (its copy is not recorded again) ...
    assert not list(d.glob("traj*.dump"))
    # ... and the task ends by its steps, or stopped again after its last restart
    if (d / STOPPED_FILE).exists():
        record = json.loads((d / STOPPED_FILE).read_text())
        assert record["restarts"] == 2 and record["frames_run"] == len(steps)
        assert record["frames_not_run"] == NSTEPS // TRJ + 1 - len(steps) > 0
    else:
        assert steps[-1] == NSTEPS
