"""On a multi-node cluster, GPU work lands on GPU nodes and DFT-sized CPU tasks on
CPU nodes (ray.cluster_utils.Cluster: several raylets on this machine)."""

import pytest
import ray
from ray.cluster_utils import Cluster

from raygen.actors.evaluator import Evaluator
from raygen.actors.trainer import Trainer
from raygen.cluster import actor_options, check_feasible, infeasible, placement_info, ray_options
from raygen.config.schema import WorkerResources


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


def test_node_labels_and_custom_resources_decide_where_each_kind_runs():
    """GPU nodes labelled pool=gpu, CPU nodes pool=cpu with a custom `dft` resource:
    training/MD-like work lands only on the GPU node; labelling only on the CPU
    node, even where the GPU node has free CPUs."""
    from raygen.actors.labeling import submit_label
    from raygen.labelers.emt import EmtLabelConfig

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    gpu_node = cluster.add_node(num_cpus=4, num_gpus=1, labels={"raygen.io/pool": "gpu"})
    cpu_node = cluster.add_node(num_cpus=2, resources={"dft": 2},
                                labels={"raygen.io/pool": "cpu"})
    ray.init(address=cluster.address, log_to_driver=False)
    try:
        gpu_work = WorkerResources(num_cpus=1, num_gpus=1,
                                   label_selector={"raygen.io/pool": "gpu"})
        dft = WorkerResources(num_cpus=1, resources={"dft": 1},
                              label_selector={"raygen.io/pool": "cpu"})
        where = ray.remote(placement_info)
        assert ray.get(where.options(**ray_options(gpu_work)).remote(),
                       timeout=120)["node_id"] == gpu_node.node_id
        nodes = ray.get([where.options(**ray_options(dft)).remote() for _ in range(6)],
                        timeout=120)
        assert {n["node_id"] for n in nodes} == {cpu_node.node_id}
        # a real labelling task goes through the same options
        import tempfile

        from ase.build import bulk

        with tempfile.TemporaryDirectory() as d:
            ref = submit_label(EmtLabelConfig(), dft, 1, d, bulk("Cu", cubic=True))
            assert ray.get(ref, timeout=120).usable
        assert infeasible(gpu_work, ray.nodes()) is None
        assert infeasible(dft, ray.nodes()) is None
    finally:
        ray.shutdown()
        cluster.shutdown()


def test_a_worker_no_node_can_host_fails_fast_naming_the_key():
    from raygen.config.schema import ClusterConfig
    from raygen.errors import RunError

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 2})
    cluster.add_node(num_cpus=2, labels={"raygen.io/pool": "cpu"})
    ray.init(address=cluster.address, log_to_driver=False)
    try:
        cfg = ClusterConfig(address=cluster.address)
        check_feasible(cfg)  # the defaults fit
        cfg.trainer = WorkerResources(num_cpus=1, num_gpus=1)
        cfg.labeler = WorkerResources(num_cpus=1, label_selector={"raygen.io/pool": "dft"})
        with pytest.raises(RunError) as err:
            check_feasible(cfg)
        text = str(err.value)
        assert "cluster.trainer.num_gpus=1: no node has it" in text
        assert "cluster.labeler.label_selector.raygen.io/pool=dft" in text
        assert "raygen.io/pool=cpu" in text  # what the nodes do have
        cfg.autoscaling = True  # nodes may join later: no verdict at start
        check_feasible(cfg)
    finally:
        ray.shutdown()
        cluster.shutdown()
