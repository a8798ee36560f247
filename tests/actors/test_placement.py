"""Workers take their resources from config: each GPU worker pins its own GPU."""

import ray

from raygen.actors.trainer import Trainer
from raygen.cluster import actor_options
from raygen.config.schema import WorkerResources


def test_trainers_pin_distinct_gpus(local_ray):
    res = WorkerResources(count=2, num_cpus=1, num_gpus=1)
    trainers = [Trainer.options(**actor_options(res)).remote() for _ in range(2)]
    where = ray.get([t.placement.remote() for t in trainers])
    assert sorted(w["gpu_ids"][0] for w in where) == ["0", "1"]
    assert {w["cuda_visible_devices"] for w in where} == {"0", "1"}
    for t in trainers:
        ray.kill(t)


def test_cpu_only_worker_sees_no_gpu(local_ray):
    t = Trainer.options(**actor_options(WorkerResources(num_cpus=1, num_gpus=0))).remote()
    assert ray.get(t.placement.remote())["gpu_ids"] == []
    ray.kill(t)
