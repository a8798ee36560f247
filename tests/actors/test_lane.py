"""Lanes: one warm process trains, compresses, runs MD and evaluates deviations;
when a run uses them (cluster.lanes)."""

from types import SimpleNamespace

import numpy as np
import pytest
import ray

from raygen.actors.evaluator import deviation_table, load_models
from raygen.actors.lane import Lane, LanePool, lane_count, use_lanes
from raygen.config.backend import compressed_name, graph_name
from raygen.config.schema import ClusterConfig, TrainConfig, WorkerResources
from raygen.engines.lammps import LammpsExploreConfig
from raygen.errors import RunError
from raygen.science.frames import deviation_array
from raygen.science.training_input import make_training_input
from tests.actors.test_explorer import make_task
from tests.conftest import TINY_TRAIN_INPUT


def run_cfg(proceed_ratio=1.0, **cluster):
    return SimpleNamespace(cluster=ClusterConfig(**cluster),
                           label=SimpleNamespace(proceed_ratio=proceed_ratio))


def test_lanes_where_raygen_owns_a_cpu_only_local_ray():
    assert use_lanes(run_cfg())  # conf/cluster/local.yaml's shape
    assert not use_lanes(run_cfg(address="auto"))  # a shared cluster
    assert not use_lanes(run_cfg(trainer=WorkerResources(count=2, num_gpus=1)))
    assert not use_lanes(run_cfg(explorer=WorkerResources(count=2, num_cpus=2)))
    assert not use_lanes(run_cfg(0.5))  # late labels run beside the next training
    assert not use_lanes(run_cfg(lanes=False))
    assert use_lanes(run_cfg(0.5, lanes=True))  # asked for: the user's call
    with pytest.raises(RunError, match="cluster.lanes=true"):
        use_lanes(run_cfg(lanes=True, explorer=WorkerResources(count=2, num_gpus=0.5)))


def test_as_many_lanes_as_the_most_of_a_kind_and_the_cpus_admit():
    c = ClusterConfig(trainer=WorkerResources(count=1), explorer=WorkerResources(count=3),
                      evaluator=WorkerResources(count=2))
    assert lane_count(c, cpus=8) == 3
    assert lane_count(c, cpus=2) == 2
    two = WorkerResources(count=4, num_cpus=2)
    assert lane_count(ClusterConfig(trainer=two, explorer=two, evaluator=two), cpus=6) == 3


def test_one_lane_trains_compresses_runs_md_and_evaluates_in_one_process(
        local_ray, backend_models, cu_data, tmp_path):
    """With each backend: the PyTorch lane forks its warm ``dp --pt`` like TensorFlow's."""
    backend, tiny_models = backend_models
    lane = Lane.options(num_cpus=0).remote(LammpsExploreConfig(), ["Cu"], 1, backend)
    pid = ray.get(lane.placement.remote())["pid"]

    inp = make_training_input(TrainConfig(numb_steps=20, input=TINY_TRAIN_INPUT,
                                          disp_freq=10, backend=backend),
                              ["Cu"], [cu_data], 0, 0, False)
    graph = tmp_path / graph_name(0, backend)
    result = ray.get(lane.train.remote(str(tmp_path / "000"), inp, str(graph), backend))
    assert graph.stat().st_size > 0 and 0 < result.compute_s <= result.total_s

    dst = tmp_path / compressed_name(tiny_models[0])
    error, _ = ray.get(lane.compress.remote(str(tiny_models[0]), str(dst), backend))
    assert error is None and dst.stat().st_size > 0

    d = tmp_path / "task.000.000000"
    make_task(d, dst, 300)
    info, table = ray.get(lane.run.remote(str(d), d.name, 0, str(d / "traj.parquet")))
    assert info.error is None and info.pid == pid and table.num_rows == 11

    paths = [str(p) for p in tiny_models]
    ours = ray.get(lane.evaluate.remote(table, paths, 5))
    ref = deviation_table(load_models(paths), table, 200)
    np.testing.assert_allclose(deviation_array(ours), deviation_array(ref), rtol=1e-6,
                               atol=1e-8)
    assert deviation_array(ours)[:, 3].max() > 0  # two different models disagree
    # another ensemble (the same model twice) is loaded in place of the first
    same = ray.get(lane.evaluate_file.remote(str(d / "traj.parquet"), paths[:1] * 2, 5))
    assert np.abs(deviation_array(same)).max() < 1e-6
    assert ray.get(lane.placement.remote())["pid"] == pid  # all of it in one process


def test_lanes_hold_no_ray_cpus_so_labelling_tasks_still_run(local_ray):
    cfg = SimpleNamespace(cluster=ClusterConfig(), explore=LammpsExploreConfig())
    pool = LanePool(cfg, ["Cu"], "tf")
    lanes = pool.take(2)
    assert len(lanes) == 2 and pool.take(1) == lanes[:1]
    ray.get([lane.ready.remote() for lane in lanes])
    two_cpus = ray.remote(num_cpus=2)(lambda: "labelled")
    assert ray.get(two_cpus.remote(), timeout=120) == "labelled"
    new = pool.replace(lanes[0])
    assert pool.lanes == [new, lanes[1]] and ray.get(new.ready.remote())
    pool.close()
    assert pool.lanes == []
