"""``python -m raygen.simplify simplify.pick_data=[...] ...``: compose the config (the
same groups as ``python -m raygen``: ``train``, ``label``, ``cluster``, ``+exp=...``),
validate it for simplify, run it. Exit codes as ``python -m raygen``: 2 bad input
(before anything starts), 1 a failed run, 130 interrupted (resumable)."""

from __future__ import annotations

if __name__ == "__main__":
    from raygen.state.stop import driver_signals

    driver_signals()

import hydra  # noqa: E402 - after the signal handlers, before the slow imports
from omegaconf import DictConfig  # noqa: E402

from raygen.__main__ import run_config, run_hydra  # noqa: E402


def _simplify(cfg: DictConfig):
    from raygen.simplify.run import Simplify

    return Simplify(cfg)


@hydra.main(version_base=None, config_path="pkg://raygen.conf", config_name="config")
def _main(cfg: DictConfig) -> None:
    run_config(cfg, _simplify, simplify=True)


if __name__ == "__main__":
    run_hydra(_main)
