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

from raygen.cli.sweep import register_launcher
from raygen.config.schema import register_configs
from raygen.errors import RunError
from raygen.validate import ConfigError, validate

register_configs()
register_launcher()


def resolve_paths(cfg: DictConfig) -> None:
    """Relative paths are taken from the directory raygen was started in, and stored
    absolute (``raygen.yaml`` then says exactly what was read)."""
    cfg.workdir = os.path.abspath(os.path.expanduser(cfg.workdir))
    cfg.init.data = [os.path.abspath(os.path.expanduser(p)) for p in cfg.init.data]
    for s in cfg.systems:
        if s.path:
            s.path = os.path.abspath(os.path.expanduser(s.path))
        if s.confs:
            s.confs = os.path.abspath(os.path.expanduser(s.confs))
    if getattr(cfg.label, "template", None):
        cfg.label.template = os.path.abspath(os.path.expanduser(cfg.label.template))


def _sweep_member(cfg: DictConfig) -> None:
    """In a sweep (``-m``), each member in its own run directory (raygen.cli.sweep)."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    from raygen.cli import sweep

    hc = HydraConfig.get()
    if hc.mode != RunMode.MULTIRUN:
        return
    overrides = list(hc.overrides.task)
    cfg.workdir = sweep.member_workdir(cfg.workdir, sys.argv[1:], overrides)
    keys = sweep.swept_keys(sys.argv[1:])
    sweep.MEMBERS.append({"workdir": os.path.abspath(os.path.expanduser(cfg.workdir)),
                          "overrides": {k: v for k, _, v in (o.partition("=")
                                        for o in overrides) if k.lstrip("+~") in keys}})


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
        _sweep_member(cfg)
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


def _config_dirs(argv: list[str]) -> list[Path]:
    """The directories given with ``--config-dir``/``-cd`` (Hydra's options)."""
    dirs = []
    for k, arg in enumerate(argv):
        if arg in ("--config-dir", "-cd") and k + 1 < len(argv):
            dirs.append(Path(argv[k + 1]))
        elif arg.startswith("--config-dir="):
            dirs.append(Path(arg.split("=", 1)[1]))
    return dirs


def check_user_yaml(argv: list[str]) -> list[str]:
    """YAML syntax errors in the user's config directories, one line each (Hydra
    would answer them with a traceback)."""
    import yaml

    problems = []
    for d in _config_dirs(argv):
        if not d.is_dir():
            problems.append(f"--config-dir {d}: not a directory")
            continue
        for f in sorted(d.rglob("*.yaml")):
            try:
                yaml.safe_load(f.read_text())
            except yaml.YAMLError as err:
                mark = getattr(err, "problem_mark", None)
                where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
                what = getattr(err, "problem", None) or str(err).splitlines()[0]
                problems.append(f"{f}:{where}: YAML syntax error: {what}")
    return problems


def main() -> None:
    problems = check_user_yaml(sys.argv[1:])
    if problems:
        print("raygen: invalid configuration:\n" + "\n".join(f"  - {p}" for p in problems),
              file=sys.stderr)
        sys.exit(2)
    _main()


if __name__ == "__main__":
    main()
