"""``python -m raygen +exp=cu``: compose the config, validate it, run the loop.

What a user sees when something goes wrong is one ``raygen: ...`` line (bad
input: exit 2 before anything starts; a failed run: exit 1; an interrupt: exit
130, resumable); the traceback goes to ``<workdir>/raygen.log``.
"""

from __future__ import annotations

import os
import sys
import traceback
from pathlib import Path

import hydra
from omegaconf import DictConfig, OmegaConf

from raygen.config import register_configs
from raygen.errors import RunError
from raygen.validate import ConfigError, validate

register_configs()


def resolve_paths(cfg: DictConfig) -> None:
    """Relative paths are taken from the directory raygen was started in, and stored
    absolute (``raygen.yaml`` then says exactly what was read)."""
    cfg.workdir = os.path.abspath(os.path.expanduser(cfg.workdir))
    cfg.init.data = [os.path.abspath(os.path.expanduser(p)) for p in cfg.init.data]
    for s in cfg.systems:
        if s.path:
            s.path = os.path.abspath(os.path.expanduser(s.path))


def _log_traceback(workdir: str) -> str:
    """Append the current exception's traceback to ``raygen.log``; its path."""
    logfile = Path(workdir) / "raygen.log"
    try:
        with open(logfile, "a") as fh:
            fh.write(traceback.format_exc())
        return str(logfile)
    except OSError:
        traceback.print_exc()
        return "the output above"


@hydra.main(version_base=None, config_path="pkg://raygen.conf", config_name="config")
def _main(cfg: DictConfig) -> None:
    try:
        resolve_paths(cfg)
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
    except RunError as err:
        where = _log_traceback(cfg.workdir)
        print(f"raygen: {err}\nraygen: finished work is kept in {cfg.workdir}; details in "
              f"{where}", file=sys.stderr)
        sys.exit(1)
    except PermissionError as err:
        where = _log_traceback(cfg.workdir)
        print(f"raygen: cannot write {err.filename}: {err.strerror}; choose a run "
              f"directory you can write (workdir=...); details in {where}", file=sys.stderr)
        sys.exit(1)
    except Exception as err:  # noqa: BLE001 - anything else: one line, traceback in the log
        where = _log_traceback(cfg.workdir)
        first = str(err).splitlines()[0] if str(err) else ""
        print(f"raygen: the run stopped: {type(err).__name__}: {first}"
              f"\nraygen: finished work is kept in {cfg.workdir}; the traceback is in {where}; "
              "run the same command to resume once the cause is fixed", file=sys.stderr)
        sys.exit(1)


def main() -> None:
    _main()


if __name__ == "__main__":
    main()
