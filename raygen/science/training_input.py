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


def make_training_input(cfg: TrainConfig, type_map: list[str], systems: list[Path],
                        iteration: int, member: int, from_previous: bool) -> dict[str, Any]:
    """The input.json dict of ensemble member ``member`` in ``iteration``.

    ``from_previous``: the member is initialised from the previous iteration's
    model (DP-GEN's ``training_init_model``) and trains ``init_model_numb_steps``
    steps with the start learning rate scaled by ``init_model_start_lr_scale``.
    """
    inp = template_dict(cfg)
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
