"""``python -m raygen +exp=cu``: compose the config, validate it, run the loop."""

from __future__ import annotations

import sys

import hydra
from omegaconf import DictConfig, OmegaConf

from raygen.config import register_configs
from raygen.validate import ConfigError, validate

register_configs()


@hydra.main(version_base=None, config_path="pkg://raygen.conf", config_name="config")
def _main(cfg: DictConfig) -> None:
    try:
        validate(cfg)
    except ConfigError as err:
        print(f"raygen: {err}", file=sys.stderr)
        sys.exit(2)
    from raygen.loop import ConcurrentLearning

    OmegaConf.set_readonly(cfg, True)
    try:
        ConcurrentLearning(cfg).run()
    except KeyboardInterrupt:
        print("raygen: interrupted; finished work is kept in "
              f"{cfg.workdir}: run the same command to resume", file=sys.stderr)
        sys.exit(130)


def main() -> None:
    _main()


if __name__ == "__main__":
    main()
