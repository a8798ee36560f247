"""A worker node removed mid-iteration (ray.cluster_utils.Cluster): the run goes on
on the node that replaces it, loses no finished work and completes."""

import threading
import time

import pytest
import ray
from hydra import compose, initialize_config_module
from ray.cluster_utils import Cluster

from raygen.config import register_configs
from raygen.record import last_record

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::DeprecationWarning")]
register_configs()


def test_removing_a_worker_node_mid_md_loses_nothing_finished(tmp_path):
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0})
    first = cluster.add_node(num_cpus=2)
    ray.init(address=cluster.address, log_to_driver=False)
    run = tmp_path / "run"
    with initialize_config_module(version_base=None, config_module="raygen.conf"):
        cfg = compose(config_name="config", overrides=[
            "+exp=cu_smoke", f"workdir={run}", "progress=false", "max_iter=1",
            f"cluster.address={cluster.address}", "explore.jobs.0.nsteps=1500"])
    md = run / "iter.000000" / "01.model_devi"
    seen: dict = {}

    def remove_when_md_runs():
        deadline = time.time() + 900
        while not list(md.glob("task.*/traj.parquet")) and time.time() < deadline:
            time.sleep(0.2)
        seen["models"] = {p: p.stat().st_mtime_ns
                          for p in run.glob("iter.000000/00.train/graph.*.pb")}
        seen["md"] = {p: p.stat().st_mtime_ns for p in md.glob("task.*/traj.parquet")}
        cluster.remove_node(first)
        cluster.add_node(num_cpus=2)
        seen["removed"] = True

    watcher = threading.Thread(target=remove_when_md_runs, daemon=True)
    watcher.start()
    try:
        from raygen.loop import ConcurrentLearning

        ConcurrentLearning(cfg).run()
    finally:
        watcher.join(timeout=5)
        ray.shutdown()
        cluster.shutdown()
    assert seen.get("removed"), "the node was removed while the MD ran"
    assert len(seen["models"]) == 4 and 1 <= len(seen["md"]) < 4
    assert {p: p.stat().st_mtime_ns for p in seen["models"]} == seen["models"]
    assert {p: p.stat().st_mtime_ns for p in seen["md"]} == seen["md"]
    assert last_record(run / "record.raygen", 9) == (0, 8)
    assert len(list((run / "models").glob("graph.*.pb"))) == 4
    assert len(list(md.glob("task.*/model_devi.out"))) == 4
