"""A worker node lost mid-iteration (ray.cluster_utils.Cluster, several raylets on
this machine): the run, connected to that cluster as a user's would be
(`cluster.address=...`), loses no finished work and completes.

The loop runs in its own process (as on a real cluster); the test's main thread
owns the cluster and removes a node while the MD of iteration 0 is under way,
then adds a fresh one, as a cluster manager replaces a failed machine."""

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from ray.cluster_utils import Cluster

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::DeprecationWarning")]


def mtimes(paths) -> dict:
    return {p: p.stat().st_mtime_ns for p in paths}


def running_tasks(node) -> list[str]:
    """What the Ray workers a node's raylet started are running, by their process
    titles (``ray::Explorer.run``, ``ray::Evaluator`` when idle, ...)."""
    raylet = node.all_processes["raylet"][0].process.pid
    titles = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            if int((d / "stat").read_text().rsplit(")", 1)[1].split()[1]) == raylet:
                titles.append((d / "cmdline").read_bytes().split(b"\0")[0].decode())
        except (OSError, ValueError, IndexError):
            continue  # the process ended meanwhile
    return titles


def test_a_node_removed_mid_md_loses_no_finished_work(tmp_path):
    # a user who ran raygen on this machine before has a Ray token in ~/.ray; this
    # cluster runs without authentication, and the run must not switch token mode on
    # (its driver could not be called back: every actor destroyed before it starts)
    token = Path.home() / ".ray" / "auth_token"
    if not token.exists():
        token.parent.mkdir(mode=0o700, exist_ok=True)
        token.write_text("c" * 64)
        token.chmod(0o600)
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0})
    nodes = [cluster.add_node(num_cpus=2), cluster.add_node(num_cpus=2)]
    cluster.wait_for_nodes()
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "raygen", "+exp=cu_smoke", f"workdir={run}", "progress=false",
           "max_iter=1", "explore.jobs.0.nsteps=1500", f"cluster.address={cluster.address}"]
    err = tmp_path / "err.txt"
    proc = subprocess.Popen(cmd, cwd=tmp_path, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=open(err, "w"))
    md = run / "iter.000000" / "01.model_devi"
    try:
        deadline = time.time() + 900
        # MD under way: a task finished, and a node runs another one right now
        victim = None
        while victim is None:
            assert proc.poll() is None and time.time() < deadline, err.read_text()[-3000:]
            time.sleep(0.2)
            if list(md.glob("task.*/traj.parquet")):
                victim = next((n for n in nodes if "ray::Explorer.run" in running_tasks(n)),
                              None)
        models = mtimes(run.glob("iter.000000/00.train/graph.[0-9][0-9][0-9].pb"))
        init_labels = mtimes(run.glob("init/**/*.npy"))
        done_md = mtimes(md.glob("task.*/traj.parquet"))
        assert len(models) == 4 and done_md
        assert not (md / "model_devi.parquet").exists()
        cluster.remove_node(victim, allow_graceful=False)  # a machine lost, not drained
        cluster.add_node(num_cpus=2)  # and its replacement
        proc.wait(timeout=900)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        cluster.shutdown()
    text = err.read_text()
    assert proc.returncode == 0, text[-3000:]
    # the loss hit an MD task in flight (the node was running one): Ray restarted the
    # explorer and retried its call, or raygen replaced it ("lost during" in the log)
    assert mtimes(models) == models, "models trained before the loss are kept"
    assert mtimes(init_labels) == init_labels
    assert mtimes(done_md) == done_md, "finished MD tasks are not redone"
    assert len(list(md.glob("task.*/model_devi.out"))) == 4
    records = (run / "record.raygen").read_text().split("\n")
    assert "0 8" in records
    summary = json.loads((run / "iter.000000" / "summary.json").read_text())
    assert summary["labels_added"] >= 1
    assert len(list((run / "models").glob("graph.*.pb"))) == 4
