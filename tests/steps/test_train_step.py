"""Which members train without deepmd-kit's neighbour statistics (train.neighbor_stat)."""

from types import SimpleNamespace

from raygen.config.schema import ModelDeviJob
from raygen.steps.train import explicit_sel, skips_neighbor_stat


def ctx_with(neighbor_stat):
    return SimpleNamespace(cfg=SimpleNamespace(train=SimpleNamespace(
        neighbor_stat=neighbor_stat)))


SE_A = {"model": {"descriptor": {"type": "se_e2_a", "sel": [90]}}}
AUTO = {"model": {"descriptor": {"type": "se_e2_a", "sel": "auto"}}}
HYBRID = {"model": {"descriptor": {"type": "hybrid", "list": [
    {"type": "se_e2_a", "sel": [40]}, {"type": "se_e2_r", "sel": "auto:1.1"}]}}}


def test_sel_must_be_named_for_every_descriptor():
    assert explicit_sel(SE_A)
    assert not explicit_sel(AUTO) and not explicit_sel(HYBRID) and not explicit_sel({})


def test_only_later_members_of_an_exploring_iteration_skip_them():
    job, first = ModelDeviJob(), ctx_with("first")
    assert [skips_neighbor_stat(first, m, SE_A, job) for m in range(4)] == \
        [False, True, True, True]
    assert not skips_neighbor_stat(first, 2, SE_A, None)  # the final ensemble
    assert not skips_neighbor_stat(first, 2, AUTO, job)  # sel chosen from the statistics
    assert not skips_neighbor_stat(ctx_with("all"), 2, SE_A, job)
