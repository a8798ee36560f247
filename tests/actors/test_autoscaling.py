"""Autoscaling with Ray's fake multi-node provider (ray.cluster_utils.AutoscalingCluster),
node types mirroring k8s/'s worker groups: pending labelling tasks scale the CPU
group up from zero, and it scales back down when idle."""

import time

import pytest
import ray
from ase.build import bulk
from ray.cluster_utils import AutoscalingCluster

from raygen.actors.labeling import submit_label
from raygen.cluster import check_feasible
from raygen.config import ClusterConfig, WorkerResources
from raygen.errors import RunError
from raygen.labelers.emt import EmtLabelConfig

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::DeprecationWarning")]


def dft_nodes() -> int:
    return sum(1 for n in ray.nodes() if n.get("Alive") and n["Resources"].get("dft", 0) > 0)


def test_labelling_scales_the_cpu_group_from_zero_and_back(tmp_path):
    cluster = AutoscalingCluster(
        head_resources={"CPU": 0},
        worker_node_types={
            "cpu": {"resources": {"CPU": 2, "dft": 2}, "node_config": {},
                    "min_workers": 0, "max_workers": 2},
            "gpu": {"resources": {"CPU": 2, "GPU": 1}, "node_config": {},
                    "min_workers": 0, "max_workers": 1},
        },
        idle_timeout_minutes=0.2)
    cluster.start()
    try:
        ray.init("auto", log_to_driver=False)
        labeler = WorkerResources(count=4, num_cpus=1, resources={"dft": 1})
        cfg = ClusterConfig(address="auto", labeler=labeler,
                            trainer=WorkerResources(num_cpus=0), explorer=WorkerResources(
                                num_cpus=0), evaluator=WorkerResources(num_cpus=0))
        assert dft_nodes() == 0
        with pytest.raises(RunError, match="cluster.labeler.resources.dft=1"):
            check_feasible(cfg)  # no such node yet, and none will come without autoscaling
        cfg.autoscaling = True
        check_feasible(cfg)
        refs = [submit_label(EmtLabelConfig(), labeler, 1, str(tmp_path / f"t{k}"),
                             bulk("Cu", "fcc", a=3.6 + 0.01 * k, cubic=True)) for k in range(6)]
        peak = 0
        deadline = time.time() + 300
        pending = list(refs)
        while pending and time.time() < deadline:
            _, pending = ray.wait(pending, num_returns=len(pending), timeout=1)
            peak = max(peak, dft_nodes())
        assert not pending, "the labelling tasks never ran"
        assert all(o.usable for o in ray.get(refs))
        assert peak >= 1, "the CPU group scaled up from zero"
        deadline = time.time() + 240
        while dft_nodes() and time.time() < deadline:
            time.sleep(2)
        assert dft_nodes() == 0, "the idle CPU group scaled back down"
    finally:
        ray.shutdown()
        cluster.shutdown()
