"""The worker-pool seam: steps take workers from a pool and give them back; step actors
and warm lanes are its two sides, and no step knows which one it has."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import ray

from raygen.actors.pool import LaneWorkers, StepActors, can_stream
from raygen.config.schema import WorkerResources

STEPS = Path(__file__).resolve().parents[2] / "raygen" / "steps"


class FakeLanes:
    """A LanePool's surface: the first n lanes, started on first use; replace."""

    def __init__(self, most: int) -> None:
        self.most, self.lanes, self.killed = most, [], []

    def take(self, n: int) -> list:
        n = max(1, min(int(n), self.most))
        while len(self.lanes) < n:
            self.lanes.append(object())
        return self.lanes[:n]

    def replace(self, lane):
        self.killed.append(lane)
        new = object()
        self.lanes = [new if x is lane else x for x in self.lanes]
        return new


def test_lanes_are_lent_kept_and_handed_from_md_to_deviations():
    lanes = FakeLanes(most=3)
    pool = LaneWorkers(lanes, (["m0.pb", "m1.pb"], 50))
    explorers = pool.take(2)
    assert explorers == lanes.lanes[:2]
    assert pool.capacity(5) == 3  # no more lanes than the cluster's cores hold
    # an explorer with no MD left evaluates next, in the same process
    assert pool.hand_over(explorers[0]) is explorers[0]
    # the evaluators the reducer takes are the lanes nobody is using
    assert pool.take(3) == [lanes.lanes[2]]
    lost = explorers[1]
    new = pool.replace(lost)
    assert lanes.killed == [lost] and new in pool.busy and lost not in pool.busy
    pool.release([new])
    assert pool.take(1) == [new]
    pool.close()
    assert pool.busy == [] and len(lanes.lanes) == 3  # nothing stopped


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@ray.remote(num_cpus=1)
class Worker:
    def ping(self) -> str:
        return "pong"


def test_step_actors_are_started_for_the_step_and_stopped_when_given_back(local_ray):
    pool = StepActors(lambda: Worker.remote())
    a, b = pool.take(2)
    assert ray.get([a.ping.remote(), b.ping.remote()]) == ["pong", "pong"]
    # given back: stopped, its CPU free for the next kind at once
    assert pool.hand_over(a) is None
    c = pool.take(1)[0]
    assert ray.get(c.ping.remote(), timeout=30) == "pong"
    assert stops_within(a, 30)
    d = pool.replace(b)
    assert ray.get(d.ping.remote(), timeout=30) == "pong"
    pool.close()
    assert pool.out == []
    assert stops_within(c, 30)


def stops_within(actor, seconds: float) -> bool:
    """Whether ``actor`` is gone within ``seconds``: ``ray.kill`` is asynchronous, so a
    call sent right after it may still be served before the kill lands."""
    import time

    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            ray.get(actor.ping.remote(), timeout=deadline - time.time())
        except ray.exceptions.RayActorError:
            return True
        except ray.exceptions.GetTimeoutError:
            return False
        time.sleep(0.2)
    return False


def test_md_and_deviations_stream_only_with_workers_of_their_own(local_ray):
    one = WorkerResources(count=1, num_cpus=1.0)
    actors = StepActors(lambda: None)
    lanes = LaneWorkers(FakeLanes(2))
    assert can_stream(actors, actors, one, 1, one, 1)       # 2 CPUs: both fit
    assert not can_stream(actors, actors, one, 2, one, 1)   # 3 CPUs do not
    assert not can_stream(lanes, lanes, one, 1, one, 1)     # a lane runs MD, then evaluates


def test_no_step_knows_whether_it_runs_on_lanes_or_actors():
    for path in STEPS.glob("*.py"):
        text = path.read_text()
        assert not re.search(r"\bctx\.lanes\b|\bLanePool\b|\bTrainer\.options|"
                             r"\bExplorer\.options|\bEvaluator\.options|\bkill_all\b", text), \
            f"{path.name} reaches past the worker pool"
