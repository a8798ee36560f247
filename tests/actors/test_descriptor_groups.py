"""The PyTorch-only descriptor groups (``train=dpa2``, ``train=dpa3``): each composes and
validates, trains and freezes with raygen's trainer on CPU, its model evaluates, and it
is known not to compress (so the MD runs it as trained)."""

import numpy as np
import pytest
from omegaconf import OmegaConf

from raygen.actors.trainer import train_member
from raygen.config.backend import cannot_compress
from raygen.science.training_input import make_training_input
from raygen.validate import validate
from tests.test_config import cfg_with


@pytest.mark.parametrize("group", ["dpa2", "dpa3"])
def test_a_descriptor_group_trains_freezes_and_evaluates(group, cu_data, tmp_path):
    cfg = cfg_with("+exp=cu_smoke", f"train={group}", "train.numb_steps=30",
                   "train.disp_freq=10")
    validate(cfg)
    assert cfg.train.backend == "pt"
    train = OmegaConf.to_object(cfg.train)
    inp = make_training_input(train, ["Cu"], [cu_data], 0, 0, False)
    assert inp["model"]["descriptor"]["type"] == group
    assert cannot_compress(inp) == [group]
    graph = tmp_path / "graph.000.pth"
    result = train_member(tmp_path / "000", inp, graph, "pt")
    assert graph.stat().st_size > 0 and result.lcurve["step"] == 30

    from deepmd.infer import DeepPot

    from tests.conftest import cu_frames

    frame = cu_frames(n_perturb=1, md_steps=0, seed=3)[0]
    e, f, _ = DeepPot(str(graph)).eval(frame.positions.reshape(1, -1),
                                        np.asarray(frame.cell).reshape(1, -1),
                                        [0] * len(frame))
    assert np.isfinite(e).all() and f.shape == (1, len(frame), 3)
