"""The run directory must be visible from every node; a node that cannot see it is
an error naming the path, before any work."""

import socket

import pytest
import ray
from ray.cluster_utils import Cluster

from raygen.cluster import check_shared_workdir, nodes_missing
from raygen.errors import RunError


def test_every_node_is_asked_and_a_missing_path_named(tmp_path, monkeypatch):
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    cluster.add_node(num_cpus=1)
    ray.init(address=cluster.address, log_to_driver=False)
    try:
        check_shared_workdir(tmp_path)  # same machine: every node sees it
        assert nodes_missing(str(tmp_path / "nowhere")) == [socket.gethostname()]
        monkeypatch.setattr("raygen.cluster.nodes_missing", lambda path: ["node-7"])
        with pytest.raises(RunError, match=f"workdir {tmp_path} is not visible on node-7"):
            check_shared_workdir(tmp_path)
        assert list(tmp_path.iterdir()) == []  # the probe is gone
    finally:
        ray.shutdown()
        cluster.shutdown()
