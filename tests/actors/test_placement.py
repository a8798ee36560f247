"""Workers take their resources from config: GPUs pinned, CPU work on CPU nodes."""

import pytest
import ray
from ray.cluster_utils import Cluster

from raygen.actors.evaluator import Evaluator
from raygen.actors.trainer import Trainer
from raygen.cluster import actor_options, placement_info
from raygen.config import WorkerResources


@pytest.fixture
def isolated_home(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))


def test_trainers_pin_distinct_gpus(isolated_home):
    ray.init(num_cpus=2, num_gpus=2, include_dashboard=False, log_to_driver=False)
    try:
        res = WorkerResources(count=2, num_cpus=1, num_gpus=1)
        trainers = [Trainer.options(**actor_options(res)).remote() for _ in range(2)]
        where = ray.get([t.placement.remote() for t in trainers])
        assert sorted(w["gpu_ids"][0] for w in where) == ["0", "1"]
        assert {w["cuda_visible_devices"] for w in where} == {"0", "1"}
    finally:
        ray.shutdown()


def test_gpu_and_cpu_work_land_on_the_right_nodes(isolated_home, tiny_models):
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "num_gpus": 0})
    gpu_node = cluster.add_node(num_cpus=2, num_gpus=1)
    cpu_node = cluster.add_node(num_cpus=2, num_gpus=0)
    ray.init(address=cluster.address, log_to_driver=False)
    try:
        gpu = WorkerResources(num_cpus=1, num_gpus=1)
        trainer = Trainer.options(**actor_options(gpu)).remote()
        evaluator = Evaluator.options(**actor_options(WorkerResources(num_cpus=1, num_gpus=0.5))
                                      ).remote([str(p) for p in tiny_models])
        t_where, e_where = ray.get([trainer.placement.remote(), evaluator.placement.remote()])
        assert t_where["node_id"] == e_where["node_id"] == gpu_node.node_id
        # a DFT-sized CPU task (2 cores) cannot fit the head, nor beside the trainer
        label_like = ray.remote(placement_info).options(num_cpus=2)
        assert ray.get(label_like.remote())["node_id"] == cpu_node.node_id
    finally:
        ray.shutdown()
        cluster.shutdown()
