"""DeePMD-kit ``input.json`` of one ensemble member.

All members share the template and the data; they differ only in their seeds
(descriptor, fitting net and training), as in DP-GEN.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import TYPE_CHECKING, Any

from omegaconf import OmegaConf

if TYPE_CHECKING:  # annotations only: science does not depend on the schema
    from raygen.config.schema import TrainConfig



def template_dict(cfg: TrainConfig) -> dict[str, Any]:
    tpl = cfg.input
    if OmegaConf.is_config(tpl):
        tpl = OmegaConf.to_container(tpl, resolve=True)
    return copy.deepcopy(dict(tpl))


def member_seed(cfg: TrainConfig, iteration: int, member: int) -> int:
    """A distinct, reproducible seed per (iteration, member)."""
    return (cfg.seed * 1_000_003 + iteration * 10_007 + member * 101 + 1) % (2**31 - 1)


# keys of a multi-task branch that a single-task model does not take
_BRANCH_ONLY_KEYS = ("model_branch_alias", "info", "finetune_head")


def pretrained_architecture(branch: dict[str, Any]) -> dict[str, Any]:
    """The ``model`` section that trains a pre-trained branch's architecture (its
    descriptor, fitting net and model options; what ``--use-pretrain-script`` would
    take), for :func:`make_training_input`'s ``model``."""
    model = copy.deepcopy(dict(branch))
    for key in _BRANCH_ONLY_KEYS:
        model.pop(key, None)
    return model


def make_training_input(cfg: TrainConfig, type_map: list[str], systems: list[Path],
                        iteration: int, member: int, from_previous: bool,
                        finetune: bool = False,
                        model: dict[str, Any] | None = None) -> dict[str, Any]:
    """The input.json dict of ensemble member ``member`` in ``iteration``.

    ``from_previous``: the member is initialised from the previous iteration's
    model (DP-GEN's ``training_init_model``) and trains ``init_model_numb_steps``
    steps with the start learning rate scaled by ``init_model_start_lr_scale``.
    ``finetune``: the member is fine-tuned from a pre-trained model
    (``train.finetune``: its steps and start learning rate). ``model``: the model
    section to train (a pre-trained model's architecture, see
    :func:`pretrained_architecture`); None: the template's. Either way the run's type
    map and the member's seeds are set in it.
    """
    inp = template_dict(cfg)
    if model is not None:
        inp["model"] = copy.deepcopy(model)
    seed = member_seed(cfg, iteration, member)
    model = inp.setdefault("model", {})
    model["type_map"] = list(type_map)
    model.setdefault("descriptor", {})["seed"] = seed
    model.setdefault("fitting_net", {})["seed"] = seed + 1
    training = inp.setdefault("training", {})
    training["seed"] = seed + 2
    steps = cfg.numb_steps
    if from_previous:
        if cfg.init_model_numb_steps is not None:
            steps = cfg.init_model_numb_steps
        lr = inp.setdefault("learning_rate", {})
        if "start_lr" in lr:
            lr["start_lr"] = lr["start_lr"] * cfg.init_model_start_lr_scale
    if finetune:
        ft = cfg.finetune
        steps = ft.numb_steps if ft.numb_steps is not None else cfg.numb_steps
        if ft.start_lr is not None:
            inp.setdefault("learning_rate", {})["start_lr"] = float(ft.start_lr)
    training["numb_steps"] = int(steps)
    disp = training.setdefault("disp_freq", cfg.disp_freq)
    # deepmd-kit (TF) saves a checkpoint only at display steps (and at the end when
    # the last step is not a save step): a multiple of disp_freq always gets one.
    training.setdefault("save_freq", disp * max(1, min(int(steps), 1000) // disp))
    training.setdefault("disp_file", "lcurve.out")
    training["training_data"] = {
        **training.get("training_data", {}),
        "systems": [str(s) for s in systems],
    }
    training.setdefault("training_data", {}).setdefault("batch_size", "auto")
    return inp
