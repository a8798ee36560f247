"""On a multi-node cluster, GPU work lands on GPU nodes and DFT-sized CPU tasks on
CPU nodes (ray.cluster_utils.Cluster: several raylets on this machine)."""

import pytest
import ray
from ray.cluster_utils import Cluster

from raygen.actors.evaluator import Evaluator
from raygen.actors.trainer import Trainer
from raygen.cluster import actor_options, placement_info
from raygen.config import WorkerResources


def test_gpu_and_cpu_work_land_on_the_right_nodes(tiny_models):
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "num_gpus": 0})
    gpu_node = cluster.add_node(num_cpus=2, num_gpus=2)
    cpu_node = cluster.add_node(num_cpus=2, num_gpus=0)
    ray.init(address=cluster.address, log_to_driver=False)
    try:
        trainer = Trainer.options(**actor_options(WorkerResources(num_cpus=1, num_gpus=1))).remote()
        evaluator = Evaluator.options(**actor_options(WorkerResources(num_cpus=1, num_gpus=0.5))
                                      ).remote([str(p) for p in tiny_models])
        t_where, e_where = ray.get([trainer.placement.remote(), evaluator.placement.remote()],
                                   timeout=180)
        assert t_where["node_id"] == e_where["node_id"] == gpu_node.node_id
        assert len(t_where["gpu_ids"]) == 1 and e_where["gpu_ids"] != t_where["gpu_ids"]
        # a DFT-sized CPU task (2 cores) fits neither the head nor beside the trainer
        label_like = ray.remote(placement_info).options(num_cpus=2)
        assert ray.get(label_like.remote())["node_id"] == cpu_node.node_id
    finally:
        ray.shutdown()
        cluster.shutdown()


pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
