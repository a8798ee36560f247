import pytest
import ray


@pytest.fixture(scope="module")
def local_ray():
    """One local Ray per test module: 2 CPUs and 2 logical GPUs (placement tests)."""
    ray.init(num_cpus=2, num_gpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()
