"""Paths in a composed config, taken from where raygen was started."""

from __future__ import annotations

import os

from omegaconf import DictConfig


def _absolute(path: str) -> str:
    return os.path.abspath(os.path.expanduser(path))


def resolve_paths(cfg: DictConfig) -> None:
    """Relative paths are taken from the directory raygen was started in, and stored
    absolute (``raygen.yaml`` then says exactly what was read)."""
    cfg.workdir = _absolute(cfg.workdir)
    cfg.init.data = [_absolute(p) for p in cfg.init.data]
    for s in cfg.systems:
        if s.path:
            s.path = _absolute(s.path)
        if s.confs:  # one glob or a list of them
            s.confs = (_absolute(s.confs) if isinstance(s.confs, str)
                       else [_absolute(p) for p in s.confs])
    for key in ("template", "model"):  # label=vasp's INCAR template, label=deepmd's teacher
        if getattr(cfg.label, key, None):
            cfg.label[key] = _absolute(cfg.label[key])
    if cfg.train.finetune.model:  # the pre-trained model to fine-tune
        cfg.train.finetune.model = _absolute(cfg.train.finetune.model)
    for job in cfg.explore.jobs:  # a job's LAMMPS template and the files it brings
        tpl = job.template
        for key in ("lmp", "plm", "plm_path"):
            if tpl[key]:
                tpl[key] = _absolute(tpl[key])
        tpl.files = [_absolute(f) for f in tpl.files]
    cfg.simplify.pick_data = [_absolute(p)
                              for p in cfg.simplify.pick_data]  # the data set to simplify
