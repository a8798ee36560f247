"""Paths in a composed config, taken from where raygen was started."""

from __future__ import annotations

import os

from omegaconf import DictConfig


def resolve_paths(cfg: DictConfig) -> None:
    """Relative paths are taken from the directory raygen was started in, and stored
    absolute (``raygen.yaml`` then says exactly what was read)."""
    cfg.workdir = os.path.abspath(os.path.expanduser(cfg.workdir))
    cfg.init.data = [os.path.abspath(os.path.expanduser(p)) for p in cfg.init.data]
    for s in cfg.systems:
        if s.path:
            s.path = os.path.abspath(os.path.expanduser(s.path))
        if s.confs:  # one glob or a list of them
            s.confs = (os.path.abspath(os.path.expanduser(s.confs)) if isinstance(s.confs, str)
                       else [os.path.abspath(os.path.expanduser(p)) for p in s.confs])
    for key in ("template", "model"):  # label=vasp's INCAR template, label=deepmd's teacher
        if getattr(cfg.label, key, None):
            cfg.label[key] = os.path.abspath(os.path.expanduser(cfg.label[key]))
    if cfg.train.finetune.model:  # the pre-trained model to fine-tune
        cfg.train.finetune.model = os.path.abspath(os.path.expanduser(cfg.train.finetune.model))
    for job in cfg.explore.jobs:  # a job's LAMMPS template and the files it brings
        tpl = job.template
        for key in ("lmp", "plm", "plm_path"):
            if tpl[key]:
                tpl[key] = os.path.abspath(os.path.expanduser(tpl[key]))
        tpl.files = [os.path.abspath(os.path.expanduser(f)) for f in tpl.files]
    cfg.simplify.pick_data = [os.path.abspath(os.path.expanduser(p))
                              for p in cfg.simplify.pick_data]  # the data set to simplify
