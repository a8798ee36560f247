"""train.final: which settings make the production ensemble, and when a finished
run still owes it (the training itself runs in the end-to-end test)."""

import json
from pathlib import Path

from omegaconf import OmegaConf

from raygen.config.merge import deep_merge
from raygen.config.schema import FinalTrainConfig, RaygenConfig, TrainConfig
from raygen.state.context import RunContext
from raygen.state.workdir import FINAL_TRAIN_RECORD, RunDir
from raygen.steps import final_train
from tests.conftest import TINY_TRAIN_INPUT


def ctx_with(tmp_path: Path, **final) -> RunContext:
    cfg = OmegaConf.structured(RaygenConfig(
        workdir=str(tmp_path), train=TrainConfig(input=TINY_TRAIN_INPUT,
                                                 final=FinalTrainConfig(**final))))
    return RunContext(cfg, RunDir(tmp_path))


def test_merge_goes_key_by_key_and_leaves_the_base_alone():
    base = {"loss": {"start_pref_v": 0.02, "limit_pref_v": 1}, "training": {"seed": 1}}
    got = deep_merge(base, {"loss": {"limit_pref_v": 10}, "new": [1]})
    assert got == {"loss": {"start_pref_v": 0.02, "limit_pref_v": 10},
                   "training": {"seed": 1}, "new": [1]}
    assert base["loss"]["limit_pref_v"] == 1


def test_off_by_default_and_never_pending(tmp_path):
    ctx = ctx_with(tmp_path)
    assert final_train.settings(ctx) is None and not final_train.pending(ctx)


def test_pending_until_models_were_made_by_exactly_these_settings(tmp_path):
    ctx = ctx_with(tmp_path, numb_steps=5000, input={"loss": {"limit_pref_v": 10}})
    assert final_train.pending(ctx)
    want = final_train.settings(ctx)
    src = final_train.final_dir(ctx, want)
    src.mkdir(parents=True)
    (src / FINAL_TRAIN_RECORD).write_text(json.dumps(
        {"settings": want, "data_iteration": 3, "seconds": 1.0}))
    ctx.rundir.models.mkdir()
    final_train.record_in_models(ctx, 3, src)
    assert not final_train.pending(ctx)
    rec = json.loads((ctx.rundir.final_train_record).read_text())
    assert rec["from"] == str(src.relative_to(tmp_path)) and rec["data_iteration"] == 3
    other = ctx_with(tmp_path, numb_steps=5000, input={"loss": {"limit_pref_v": 20}})
    assert final_train.pending(other)
    assert final_train.final_dir(other, final_train.settings(other)) != src
    # the iteration's own models copied over again: the record goes with them
    final_train.record_in_models(ctx, 3, None)
    assert final_train.pending(ctx)


def test_member_input_is_the_template_with_the_production_settings(tmp_path):
    ctx = ctx_with(tmp_path, numb_steps=5000, start_lr=0.003,
                   input={"loss": {"limit_pref_v": 10}})
    inp = final_train.member_input(ctx, final_train.settings(ctx), [Path("/d/a"), Path("/d/b")],
                                   final_iter=4, member=1)
    assert inp["training"]["numb_steps"] == 5000
    assert inp["learning_rate"]["start_lr"] == 0.003
    assert inp["loss"]["limit_pref_v"] == 10
    assert inp["training"]["training_data"]["systems"] == ["/d/a", "/d/b"]
    other = final_train.member_input(ctx, final_train.settings(ctx), [Path("/d/a")], 4, 2)
    assert other["training"]["seed"] != inp["training"]["seed"]  # members still differ
