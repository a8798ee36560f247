"""Autoscaling with Ray's fake multi-node provider (`ray.cluster_utils.AutoscalingCluster`),
node types mirroring the KubeRay worker groups of k8s/: pending labelling tasks
scale the CPU group up from zero, and it goes back to zero when idle.

Ray 2.60's wheel lacks the provider's `example.yaml` that AutoscalingCluster reads
its base config from (and the autoscaler its defaults), so the config is written
here with the same keys and the provider is named as an external one."""

import tempfile
import time

import pytest
import ray
from ray.cluster_utils import AutoscalingCluster

from raygen.cluster import ray_options
from raygen.config.schema import WorkerResources

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

POOL = "raygen.io/pool"


class _Cluster(AutoscalingCluster):
    def _generate_config(self, head_resources, worker_node_types, autoscaler_v2=False,
                         **config_kwargs):
        config = {
            "cluster_name": "raygen-fake", "max_workers": 4,
            # type "external" naming the fake provider's class: the same provider
            # without the defaults file the wheel lacks
            "provider": {"type": "external", "module": "ray.autoscaler._private."
                         "fake_multi_node.node_provider.FakeMultiNodeProvider",
                         "use_node_id_as_ip": True,
                         "disable_node_updaters": True, "disable_launch_config_check": True},
            "available_node_types": dict(worker_node_types),
            "head_node_type": "ray.head.default", "auth": {}, "upscaling_speed": 1.0,
            "idle_timeout_minutes": 0.1, "docker": {}, "initialization_commands": [],
            "setup_commands": [], "head_setup_commands": [], "worker_setup_commands": [],
            "head_start_ray_commands": [], "worker_start_ray_commands": [],
            "file_mounts": {}, "cluster_synced_files": [],
            "file_mounts_sync_continuously": False, "rsync_exclude": [], "rsync_filter": [],
        }
        config["available_node_types"]["ray.head.default"] = {
            "resources": head_resources, "node_config": {}, "max_workers": 0}
        if autoscaler_v2:
            from ray.autoscaler._private.fake_multi_node.node_provider import FAKE_HEAD_NODE_ID
            config["provider"]["launch_multiple"] = True
            config["provider"]["head_node_id"] = FAKE_HEAD_NODE_ID
        config.update(config_kwargs)
        return config


def _alive(pool: str) -> int:
    return sum(1 for n in ray.nodes()
               if n["Alive"] and n.get("Labels", {}).get(POOL) == pool)


def _wait(cond, timeout: float, what: str) -> None:
    end = time.time() + timeout
    while time.time() < end:
        if cond():
            return
        time.sleep(1)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}; nodes: "
                f"{[(n['Alive'], n.get('Labels')) for n in ray.nodes()]}")


def test_pending_labelling_scales_the_cpu_group_from_zero_and_back():
    from raygen.actors.labeling import submit_label
    from raygen.labelers.emt import EmtLabelConfig

    cluster = _Cluster(
        head_resources={"CPU": 0},
        worker_node_types={
            # the GPU group of k8s/base, shrunk: labelled pool=gpu, always one up
            "gpu-group": {"resources": {"CPU": 1, "GPU": 1}, "labels": {POOL: "gpu"},
                          "node_config": {}, "min_workers": 1, "max_workers": 1},
            # the CPU group for DFT: scales from zero
            "cpu-group": {"resources": {"CPU": 2}, "labels": {POOL: "cpu"},
                          "node_config": {}, "min_workers": 0, "max_workers": 2},
        },
        autoscaler_v2=True,
    )
    cluster.start()
    try:
        ray.init("auto", log_to_driver=False)
        _wait(lambda: _alive("gpu") == 1, 120, "the GPU group's minimum node")
        assert _alive("cpu") == 0
        # the labeler of conf/cluster/kuberay.yaml, sized to the fake CPU node
        dft = WorkerResources(num_cpus=2, label_selector={POOL: "cpu"})
        from ase.build import bulk

        with tempfile.TemporaryDirectory() as d:
            frames = [bulk("Cu", cubic=True) for _ in range(3)]
            for k, a in enumerate(frames):
                a.rattle(0.02, seed=k)
            refs = [submit_label(EmtLabelConfig(), dft, 1, f"{d}/task.{k}", a)
                    for k, a in enumerate(frames)]
            outcomes = ray.get(refs, timeout=240)
            assert all(o.usable for o in outcomes)
            assert _alive("cpu") >= 1  # they could only have run on a new CPU node
            where = ray.remote(lambda: ray.get_runtime_context().get_node_labels())
            assert ray.get(where.options(**ray_options(dft)).remote(),
                           timeout=120).get(POOL) == "cpu"
        # idle: the CPU group goes back to zero, the GPU group keeps its minimum
        _wait(lambda: _alive("cpu") == 0, 180, "the idle CPU group to scale down")
        assert _alive("gpu") == 1
    finally:
        ray.shutdown()
        cluster.shutdown()
