"""The warm deepmd-kit runner: the same commands, logs and results as ``dp``, one
import for many commands, and a failing command that takes only itself down."""

import json

import numpy as np
import pytest

from raygen.actors.dp_server import WarmDP
from raygen.actors.trainer import FREEZE_LOG, TRAIN_LOG, train_member
from raygen.config.backend import graph_name
from raygen.config.schema import TrainConfig
from raygen.science.training_input import make_training_input
from tests.conftest import TINY_TRAIN_INPUT


@pytest.fixture
def warm():
    runner = WarmDP("--tf")
    yield runner
    runner.close()


def test_members_trained_in_one_warm_server_are_real_models(tmp_path, cu_data,
                                                           backend_models):
    """Both backends: the same models as ``dp --tf``/``dp --pt`` processes train."""
    from deepmd.infer import DeepPot

    backend, tiny_models = backend_models
    warm = WarmDP(f"--{backend}")
    cfg = TrainConfig(numb_steps=100, input=TINY_TRAIN_INPUT, disp_freq=50, backend=backend)
    graphs = []
    for m in range(2):  # two members through the same server process
        inp = make_training_input(cfg, ["Cu"], [cu_data], 0, m, False)
        graph = tmp_path / graph_name(m, backend)
        train_member(tmp_path / f"{m:03d}", inp, graph, backend, runner=warm)
        graphs.append(graph)
        log = (tmp_path / f"{m:03d}" / TRAIN_LOG).read_text()
        assert f"$ dp --{backend} train input.json" in log
        assert ("finished training" in log) or ("Trained model has been saved" in log)
        assert (tmp_path / f"{m:03d}" / FREEZE_LOG).exists()
        assert (tmp_path / f"{m:03d}" / "lcurve.out").exists()
    server_pid = warm.proc.pid
    # the same inputs and seed as the session's first model, trained by `dp` processes:
    # the same model
    box = np.eye(3).reshape(1, 9) * 7.2
    rng = np.random.default_rng(0)
    coords = (rng.uniform(0, 7.2, size=(32, 3))).reshape(1, -1)
    ours = DeepPot(str(graphs[0])).eval(coords, box, np.zeros(32, int))[1]
    theirs = DeepPot(str(tiny_models[0])).eval(coords, box, np.zeros(32, int))[1]
    np.testing.assert_allclose(ours, theirs, atol=1e-6)
    assert warm.proc.pid == server_pid and warm.proc.poll() is None
    warm.close()


def test_a_failing_command_reports_its_status_and_the_server_goes_on(tmp_path, warm):
    (tmp_path / "input.json").write_text(json.dumps({"model": {"nonsense": 1}}))
    rc = warm.run(["--tf", "train", "input.json"], str(tmp_path), str(tmp_path / "bad.log"))
    assert rc != 0
    assert "Traceback" in (tmp_path / "bad.log").read_text()
    rc = warm.run(["--tf", "freeze", "-o", "x.pb"], str(tmp_path), str(tmp_path / "f.log"))
    assert rc != 0  # no checkpoint here: dp's own failure, reported, server alive
    assert warm.proc.poll() is None


def test_killing_the_owner_takes_the_server_and_its_training_down(tmp_path, cu_data):
    """kill -9 of the process that owns the server (a Trainer actor in a run): the
    server and the training forked from it die too, so no orphan keeps writing
    into the directory a resumed run trains in."""
    import os
    import signal
    import subprocess
    import sys
    import time

    cfg = TrainConfig(numb_steps=100000, input=TINY_TRAIN_INPUT, disp_freq=50)
    (tmp_path / "input.json").write_text(json.dumps(
        make_training_input(cfg, ["Cu"], [cu_data], 0, 0, False)))
    owner = subprocess.Popen([sys.executable, "-c", (
        "import sys; from raygen.actors.dp_server import WarmDP; w = WarmDP('--tf'); "
        "w._start(); print(w.proc.pid, flush=True); "
        f"w.run(['--tf', 'train', 'input.json'], {str(tmp_path)!r}, {str(tmp_path / 't.log')!r})")],
        stdout=subprocess.PIPE, text=True)
    server = int(owner.stdout.readline())

    def children(pid):
        try:
            return [int(c) for c in open(f"/proc/{pid}/task/{pid}/children").read().split()]
        except FileNotFoundError:
            return []

    deadline = time.time() + 120
    while not (tmp_path / "lcurve.out").exists() and time.time() < deadline:
        time.sleep(0.5)
    trainer = children(server)
    assert trainer and (tmp_path / "lcurve.out").exists()
    owner.send_signal(signal.SIGKILL)
    owner.wait()

    def alive(pid):
        try:
            return open(f"/proc/{pid}/stat").read().split()[2] != "Z"
        except FileNotFoundError:
            return False

    deadline = time.time() + 30
    while (alive(server) or alive(trainer[0])) and time.time() < deadline:
        time.sleep(0.2)
    left = [pid for pid in (server, trainer[0]) if alive(pid)]
    for pid in left:  # cleanup, then report
        os.kill(pid, signal.SIGKILL)
    assert not left, f"still running after their owner was killed: {left}"


def test_skipping_the_neighbour_statistics_trains_the_same_model(tmp_path, cu_data, warm,
                                                                 tiny_models):
    """train.neighbor_stat=first: a member trained with --skip-neighbor-stat has the
    same weights as the session's first model (same input and seed), only no
    min_nbor_dist (which only `dp compress` reads)."""
    from deepmd.infer import DeepPot

    cfg = TrainConfig(numb_steps=100, input=TINY_TRAIN_INPUT, disp_freq=50)
    inp = make_training_input(cfg, ["Cu"], [cu_data], 0, 0, False)
    graph = tmp_path / "graph.000.pb"
    train_member(tmp_path / "000", inp, graph, "tf", runner=warm, skip_neighbor_stat=True)
    log = (tmp_path / "000" / TRAIN_LOG).read_text()
    assert "--skip-neighbor-stat" in log and "Calculate neighbor statistics" not in log
    box = np.eye(3).reshape(1, 9) * 7.2
    coords = np.random.default_rng(1).uniform(0, 7.2, size=(1, 96))
    ours = DeepPot(str(graph)).eval(coords, box, np.zeros(32, int))[1]
    theirs = DeepPot(str(tiny_models[0])).eval(coords, box, np.zeros(32, int))[1]
    np.testing.assert_allclose(ours, theirs, atol=1e-6)
    assert b"train_attr/min_nbor_dist" in tiny_models[0].read_bytes()
    assert b"train_attr/min_nbor_dist" not in graph.read_bytes()
