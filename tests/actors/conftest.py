import pytest
import ray


@pytest.fixture(scope="module")
def local_ray(tmp_path_factory):
    """One local Ray per test module: 2 CPUs and 2 logical GPUs (placement tests).
    HOME is per run: Ray keeps an auth token there that must not go stale."""
    mp = pytest.MonkeyPatch()
    mp.setenv("HOME", str(tmp_path_factory.mktemp("home")))
    ray.init(num_cpus=2, num_gpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()
    mp.undo()
