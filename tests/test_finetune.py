"""Fine-tuning from a pre-trained model (``train.finetune``): a small multi-task DPA-3
pre-trained here on other metals (no Cu; :mod:`raygen.examples.pretrain`) is checked
before Ray starts (its branches, its type map), then fine-tuned into a Cu run: iteration
0 with ``dp --pt train --finetune --model-branch``, later iterations from the previous
members (``init_model_policy``), the architecture the pre-trained one, the type map the
run's."""

import json
import subprocess

import numpy as np
import pytest

from raygen.config.schema import TrainConfig
from raygen.science.deviation import read_model_devi
from raygen.science.pretrained import (
    branch_params,
    branches,
    finetune_problems,
    model_params,
    type_mapping,
)
from raygen.science.training_input import make_training_input, pretrained_architecture
from raygen.validate import ConfigError, validate
from tests.test_config import cfg_with
from tests.test_end_to_end import env_for, raygen_cmd, records


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory):
    """A multi-task DPA-3 (branches noble, group10, Al; types Ag Au Ni Pd Pt Al),
    100 steps: a real checkpoint, not a good model."""
    from raygen.examples.pretrain import pretrain

    return pretrain(tmp_path_factory.mktemp("pretrained"), steps=100)


def refusal(*overrides) -> str:
    with pytest.raises(ConfigError) as err:
        validate(cfg_with("+exp=cu_smoke", "train=dpa3", *overrides))
    return "\n".join(err.value.problems)


def test_the_pretrained_checkpoint_is_read_as_deepmd_kit_reads_it(pretrained):
    params = model_params(pretrained)
    assert branches(params) == ["noble", "group10", "Al"]
    noble = branch_params(params, "noble")
    assert noble["type_map"] == ["Ag", "Au", "Ni", "Pd", "Pt", "Al"]
    assert noble["descriptor"]["type"] == "dpa3"
    assert "Cu" not in noble["type_map"]


def test_a_multitask_model_without_a_branch_is_refused_listing_them(pretrained):
    text = refusal(f"train.finetune.model={pretrained}")
    assert "train.finetune.head" in text and "multi-task" in text
    assert "noble, group10, Al" in text
    text = refusal(f"train.finetune.model={pretrained}", "train.finetune.head=Cu")
    assert "no branch 'Cu'" in text and "noble, group10, Al" in text


def test_a_chosen_branch_validates_and_random_too(pretrained):
    for head in ("group10", "RANDOM"):
        validate(cfg_with("+exp=cu_smoke", "train=dpa3", f"train.finetune.model={pretrained}",
                          f"train.finetune.head={head}"))


def test_fine_tuning_inputs_that_cannot_work_are_refused_before_ray(pretrained, tmp_path):
    # TensorFlow: not the backend that fine-tunes here
    assert "set train.backend=pt" in refusal(f"train.finetune.model={pretrained}",
                                             "train.finetune.head=noble", "train=se_e2_a")
    # not a checkpoint: a missing file, a frozen model, a file torch cannot read
    assert "does not exist" in refusal(f"train.finetune.model={tmp_path}/none.pt")
    frozen = tmp_path / "graph.000.pth"
    frozen.write_bytes(b"x")
    assert "not a .pt checkpoint" in refusal(f"train.finetune.model={frozen}")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not torch")
    assert "not a deepmd-kit PyTorch checkpoint" in refusal(f"train.finetune.model={junk}")
    # a branch without a model, a policy that does not exist, a bad step count
    assert "set without train.finetune.model" in refusal("train.finetune.head=noble")
    assert "init_model_policy" in refusal("train.init_model_policy=sometimes")
    assert "finetune.numb_steps" in refusal(f"train.finetune.model={pretrained}",
                                            "train.finetune.head=noble",
                                            "train.finetune.numb_steps=0")


def test_a_model_without_type_embedding_keeps_its_own_type_map(tiny_pt_models):
    """deepmd-kit cannot move a se_e2_a model onto other types (its change_type_map
    raises): the same type map fine-tunes, another is refused naming both."""
    ckpt = tiny_pt_models[0].parent / "000" / "model.ckpt.pt"
    assert finetune_problems(str(ckpt), None, ["Cu"]) == []
    (text,) = finetune_problems(str(ckpt), None, ["Cu", "Ag"])
    assert "se_e2_a" in text and "['Cu', 'Ag']" in text and "['Cu']" in text
    (text,) = finetune_problems(str(ckpt), "noble", ["Cu"])
    assert "single-task" in text


def test_the_type_map_is_mapped_onto_the_pretrained_one():
    m = type_mapping(["Ag", "Au", "Ni"], ["Cu", "Ni", "Ag"])
    assert m.index == (None, 2, 0) and m.new_types == ["Cu"]
    assert "new to the model, started at random: Cu" in m.describe()
    assert not type_mapping(["Cu"], ["Cu"]).changed


def test_a_member_trains_the_pretrained_architecture_with_its_own_seeds(pretrained):
    branch = branch_params(model_params(pretrained), "noble")
    model = pretrained_architecture(branch)
    assert "model_branch_alias" not in model and "info" not in model
    cfg = TrainConfig(numb_steps=500, input={"model": {"descriptor": {"type": "se_e2_a"}},
                                             "learning_rate": {"start_lr": 1e-3}})
    cfg.finetune.numb_steps, cfg.finetune.start_lr = 123, 2e-4
    a = make_training_input(cfg, ["Cu"], [], 0, 0, False, finetune=True, model=model)
    b = make_training_input(cfg, ["Cu"], [], 0, 1, False, finetune=True, model=model)
    assert a["model"]["descriptor"]["type"] == "dpa3"  # the pre-trained one, not the template
    assert a["model"]["type_map"] == ["Cu"] and branch["type_map"][0] == "Ag"  # not changed
    assert a["model"]["descriptor"]["seed"] != b["model"]["descriptor"]["seed"]
    assert a["training"]["numb_steps"] == 123 and a["learning_rate"]["start_lr"] == 2e-4
    c = make_training_input(cfg, ["Cu"], [], 1, 0, True, model=model)
    assert c["training"]["numb_steps"] == 500 and c["learning_rate"]["start_lr"] == 1e-3


@pytest.mark.slow
def test_a_cu_run_is_fine_tuned_from_a_model_that_never_saw_cu_then_distilled(pretrained,
                                                                              tmp_path):
    """The DPA-3 ensemble fine-tuned in the loop (uncompressed: deepmd-kit cannot
    tabulate DPA-3), then distillation: its published model labels a compressed
    se_e2_a student's frames (label=deepmd)."""
    run = tmp_path / "run"
    proc = subprocess.run(
        raygen_cmd(run, "train=dpa3", "max_iter=2", "train.numb_models=2",
                   "train.numb_steps=150", f"train.finetune.model={pretrained}",
                   "train.finetune.head=noble", "train.finetune.numb_steps=100",
                   "train.init_model_policy=yes", "train.init_model_numb_steps=50"),
        cwd=tmp_path, env=env_for(tmp_path), capture_output=True, text=True, timeout=1500)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (1, 8) in records(run)
    log = (run / "raygen.log").read_text()
    assert f"fine-tuned from {pretrained} (branch noble)" in log
    assert "new to the model, started at random: Cu" in log
    pre = branch_params(model_params(pretrained), "noble")
    for ii, flag in ((0, f"--finetune {pretrained} --model-branch noble"),
                     (1, f"--init-model {run}/iter.000000/00.train/000/model.ckpt.pt")):
        task = run / f"iter.{ii:06d}" / "00.train" / "000"
        assert f"$ dp --pt train input.json {flag}" in (task / "train.log").read_text()
        inp = json.loads((task / "input.json").read_text())
        assert inp["model"]["type_map"] == ["Cu"]
        assert inp["model"]["descriptor"]["repflow"] == pre["descriptor"]["repflow"]
        assert inp["training"]["numb_steps"] == (100 if ii == 0 else 50)
    from deepmd.infer import DeepPot

    model = DeepPot(str(run / "models" / "graph.000.pth"))
    assert model.get_type_map() == ["Cu"]
    log = (run / "raygen.log").read_text()
    assert "deepmd-kit cannot compress the dpa3 descriptor" in log
    assert "dp compress exited" not in log  # known before, not tried
    assert not list(run.glob("iter.*/00.train/*.compressed.*"))
    for task in sorted((run / "iter.000001" / "01.model_devi").glob("task.*")):
        steps, devi = read_model_devi(task / "model_devi.out")
        assert len(steps) == 31 and np.isfinite(devi).all()

    # distillation: the fine-tuned DPA-3 labels a small compressed se_e2_a student
    teacher = run / "models" / "graph.000.pth"
    student = tmp_path / "student"
    proc = subprocess.run(raygen_cmd(student, "label=deepmd", f"label.model={teacher}",
                                     "max_iter=1", "train.numb_steps=200",
                                     "train.numb_models=2",
                                     # a smooth teacher: students agree closely
                                     "select.f_trust_lo=0.005", "select.f_trust_hi=5"),
                          cwd=tmp_path, env=env_for(tmp_path), capture_output=True, text=True,
                          timeout=1500)
    assert proc.returncode == 0, proc.stderr[-3000:]
    fp = student / "iter.000000" / "02.fp"
    assert json.loads((fp / "collected.json").read_text())["label_status"]["converged"] > 0
    assert (student / "iter.000000" / "00.train" / "graph.000.compressed.pb").exists()
    # a label is the teacher's prediction
    from ase.io import read

    frame = read(sorted(fp.glob("task.*/output.extxyz"))[0])
    _, f, _ = model.eval(frame.positions.reshape(1, -1), frame.cell.array.reshape(1, -1),
                         [0] * len(frame))
    np.testing.assert_allclose(frame.get_forces(), f.reshape(-1, 3), atol=1e-5)
