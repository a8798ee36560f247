"""raygen's Hydra launcher: sweep members side by side on one Ray cluster.

``python -m raygen -m ... cluster.address=auto`` starts every member at once as
its own ``python -m raygen`` driver connected to that cluster; without a cluster
address the members run one after another in this process (Hydra's basic
launcher). The member bookkeeping (run directories, the comparison table) is in
``raygen.cli.sweep``; this module only adapts it to Hydra's launcher interface.
"""


import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Optional

from hydra._internal.core_plugins.basic_launcher import BasicLauncher
from hydra.core.config_store import ConfigStore
from hydra.core.hydra_config import HydraConfig
from hydra.core.utils import JobReturn, JobStatus, filter_overrides
from hydra.plugins.launcher import Launcher
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf, open_dict


@dataclass
class RaygenLauncherConf:
    _target_: str = "hydra_plugins.raygen_launcher.raygen_launcher.RaygenLauncher"
    side_by_side: Optional[bool] = None  # null: when cluster.address names a cluster
    max_parallel: Optional[int] = None  # null: all members at once


ConfigStore.instance().store(group="hydra/launcher", name="raygen", node=RaygenLauncherConf,
                             provider="raygen")


class MemberFailed(RuntimeError):
    pass


class RaygenLauncher(Launcher):
    def __init__(self, side_by_side: Optional[bool] = None,
                 max_parallel: Optional[int] = None) -> None:
        self.side_by_side = side_by_side
        self.max_parallel = max_parallel
        self.basic = BasicLauncher()
        self.config: Optional[DictConfig] = None
        self.hydra_context: Optional[HydraContext] = None

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction,
              config: DictConfig) -> None:
        self.config, self.hydra_context = config, hydra_context
        self.basic.setup(hydra_context=hydra_context, task_function=task_function,
                         config=config)

    def launch(self, job_overrides: Sequence[Sequence[str]],
               initial_job_idx: int) -> Sequence[JobReturn]:
        from raygen.cli import sweep

        assert self.config is not None and self.hydra_context is not None
        configs = []
        for idx, overrides in enumerate(job_overrides):
            cfg = self.hydra_context.config_loader.load_sweep_config(self.config,
                                                                     list(overrides))
            with open_dict(cfg):
                cfg.hydra.job.id = cfg.hydra.job.num = initial_job_idx + idx
            configs.append(cfg)
        together = self.side_by_side
        if together is None:
            together = any(OmegaConf.select(c, "cluster.address") for c in configs)
        if not together or len(configs) < 2:
            return self.basic.launch(job_overrides, initial_job_idx)

        argv, keys = sys.argv[1:], sweep.swept_keys(sys.argv[1:])
        members = []
        for idx, (cfg, overrides) in enumerate(zip(configs, job_overrides)):
            HydraConfig.instance().set_config(cfg)
            workdir = os.path.abspath(os.path.expanduser(
                sweep.member_workdir(str(cfg.workdir), argv, list(overrides))))
            name = sweep.member_name(list(overrides), keys) or f"member{idx}"
            sweep.MEMBERS.append({"workdir": workdir, "overrides": {
                k: v for k, _, v in (o.partition("=") for o in overrides)
                if k.lstrip("+~") in keys}})
            members.append((name, sweep.replace_workdir(filter_overrides(overrides), workdir)))
        print(f"raygen: {len(members)} sweep members side by side on the Ray cluster at "
              f"{OmegaConf.select(configs[0], 'cluster.address')}", flush=True)
        results = sweep.run_side_by_side(members, self.max_parallel)
        returns = []
        for cfg, overrides, (name, _), (rc, tail) in zip(configs, job_overrides, members,
                                                          results):
            ret = JobReturn(overrides=list(overrides), cfg=cfg, hydra_cfg=cfg,
                            working_dir=os.getcwd(), task_name=str(cfg.hydra.job.name))
            if rc == 0:
                ret.status, ret.return_value = JobStatus.COMPLETED, None
            else:
                ret.status = JobStatus.FAILED
                ret.return_value = MemberFailed(
                    f"sweep member {name} exited with {rc}; its last output:\n{tail}")
            returns.append(ret)
        return returns
