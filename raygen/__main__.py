"""``python -m raygen +exp=cu``: compose the config, validate it, run the loop.

What a user sees when something goes wrong is one ``raygen: ...`` line (bad
input: exit 2 before anything starts; a failed run: exit 1; an interrupt: exit
130, resumable); the traceback goes to ``<workdir>/raygen.log``.
"""

from __future__ import annotations

if __name__ == "__main__":  # python -m raygen: a signal is a clean stop from the start
    from raygen.state.stop import driver_signals

    driver_signals()

import os  # noqa: E402 - after the signal handlers, before the slow imports
import sys
import traceback
from pathlib import Path

import hydra
from omegaconf import DictConfig, OmegaConf

from raygen.config.paths import resolve_paths
from raygen.config.plugins import register_launcher
from raygen.config.schema import register_configs
from raygen.errors import RunError
from raygen.validate import ConfigError, validate

register_configs()
register_launcher()


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


def log_traceback(workdir: str) -> str:
    """Append the current exception's traceback to ``raygen.log``; its path."""
    logfile = Path(workdir) / "raygen.log"
    try:
        with open(logfile, "a") as fh:
            fh.write(traceback.format_exc())
        return str(logfile)
    except OSError as err:
        import errno

        if err.errno == errno.ENOSPC:  # the disk is full: no traceback on the terminal
            return "nowhere (the disk is full)"
        traceback.print_exc()
        return "the output above"


def run_config(cfg: DictConfig, runner, simplify: bool = False) -> None:
    """Resolve, validate (exit 2 on bad input) and run ``runner(cfg).run()`` (exit 1 on
    a failure, said in one line; 130 when interrupted): the body of both entry points,
    the loop's and simplify's."""
    global _STARTED
    _STARTED = True
    try:
        resolve_paths(cfg)
        validate(cfg, simplify=simplify)
    except ConfigError as err:
        print(f"raygen: {err}", file=sys.stderr)
        sys.exit(2)
    OmegaConf.set_readonly(cfg, True)
    try:
        runner(cfg).run()
    except KeyboardInterrupt:
        print("raygen: interrupted; finished work is kept in "
              f"{cfg.workdir}: run the same command to resume", file=sys.stderr)
        sys.exit(130)
    except Exception as err:  # noqa: BLE001 - one line for the user, traceback in the log
        where = log_traceback(cfg.workdir)
        print(failure_lines(err, cfg.workdir, where), file=sys.stderr)
        sys.exit(1)


def _loop(cfg: DictConfig):
    from raygen.loop import ConcurrentLearning

    return ConcurrentLearning(cfg)


@hydra.main(version_base=None, config_path="pkg://raygen.conf", config_name="config")
def _main(cfg: DictConfig) -> None:
    _sweep_member(cfg)
    run_config(cfg, _loop)


def failure_lines(err: BaseException, workdir: str, where: str) -> str:
    """What a user reads when a run stops on ``err``: what failed and what to do."""
    import errno

    from raygen.errors import no_space

    kept = f"raygen: finished work is kept in {workdir}"
    if "No space left on device" in str(err) and "no space left on device in" not in str(err):
        return f"raygen: {no_space(workdir, str(err))}\n{kept}; details in {where}"
    if isinstance(err, RunError):
        return f"raygen: {err}\n{kept}; details in {where}"
    if isinstance(err, OSError) and err.errno == errno.ENOSPC:
        full = no_space(err.filename or workdir, "No space left on device")
        return f"raygen: writing {err.filename or workdir}: {full}\n{kept}; details in {where}"
    if isinstance(err, PermissionError):
        return (f"raygen: cannot write {err.filename}: {err.strerror}; choose a run "
                f"directory you can write (workdir=...); details in {where}")
    first = str(err).splitlines()[0] if str(err) else ""
    return (f"raygen: the run stopped: {type(err).__name__}: {first}\n{kept}; the traceback "
            f"is in {where}; run the same command to resume once the cause is fixed")


def _config_dirs(argv: list[str]) -> list[Path]:
    """The directories given with ``--config-dir``/``-cd`` (Hydra's options)."""
    dirs = []
    for k, arg in enumerate(argv):
        if arg in ("--config-dir", "-cd") and k + 1 < len(argv):
            dirs.append(Path(argv[k + 1]))
        elif arg.startswith("--config-dir="):
            dirs.append(Path(arg.split("=", 1)[1]))
    return dirs


def _read_yaml(f: Path) -> tuple[object, str | None]:
    """(content, problem) of one YAML file."""
    import yaml

    try:
        text = f.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        return None, f"{f}: not a text file (binary content); a config file is YAML text"
    except OSError as err:
        return None, f"{f}: cannot be read ({err.strerror})"
    try:
        return yaml.safe_load(text), None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        what = getattr(err, "problem", None) or str(err).splitlines()[0]
        return None, f"{f}:{where}: YAML syntax error: {what}"


def _experiments(argv: list[str]) -> list[str]:
    """The experiment names given as ``+exp=NAME`` (or ``exp=NAME``); a sweep's
    comma-separated names each."""
    names = []
    for arg in argv:
        key, eq, value = arg.partition("=")
        if eq and key.lstrip("+~") == "exp":
            names += [v.strip() for v in value.split(",") if v.strip()]
    return names


def _package_conf() -> Path:
    """raygen's own config directory (the package ``raygen.conf``, wherever installed)."""
    import importlib.resources

    return Path(str(importlib.resources.files("raygen.conf")))


def check_user_yaml(argv: list[str]) -> list[str]:
    """Problems of the user's config files that Hydra would answer with a traceback or
    a misleading key error, one line each: YAML syntax, binary files, a file that is
    not a mapping of settings, an experiment that does not exist or lacks the
    ``# @package _global_`` line its keys need."""
    problems = []
    dirs = _config_dirs(argv)
    for d in dirs:
        if not d.is_dir():
            problems.append(f"--config-dir {d}: not a directory")
            continue
        for f in sorted(d.rglob("*.yaml")):
            content, why = _read_yaml(f)
            if why:
                problems.append(why)
            elif content is not None and not isinstance(content, dict):
                problems.append(f"{f}: holds a {type(content).__name__}, not a mapping of "
                                "settings (`key: value` lines)")
    conf_dirs = [d for d in dirs if d.is_dir()] + [_package_conf()]
    for name in _experiments(argv):
        found = next((d / "exp" / f"{name}.yaml" for d in conf_dirs
                      if (d / "exp" / f"{name}.yaml").is_file()), None)
        if found is None:
            known = sorted({f.stem for d in conf_dirs for f in (d / "exp").glob("*.yaml")})
            where = ", ".join(str(d / "exp") for d in conf_dirs)
            problems.append(f"+exp={name}: no file {name}.yaml in {where} (known: "
                            f"{', '.join(known)}); your own experiment goes in "
                            "<dir>/exp/NAME.yaml, used with --config-dir <dir> +exp=NAME")
            continue
        if any(p.startswith(str(found)) for p in problems):
            continue
        content, _ = _read_yaml(found)
        if content is None or not isinstance(content, dict):
            what = "is empty" if content is None else f"holds a {type(content).__name__}"
            problems.append(f"{found}: {what}, not a mapping of settings (`key: value` "
                            "lines, e.g. `type_map: [Cu]`)")
        elif not any(line.strip().replace(" ", "") == "#@package_global_"
                     for line in found.read_text().splitlines()[:20]):
            problems.append(f"{found}: an experiment file must start with the line "
                            "`# @package _global_` (its keys are the run's own, not under "
                            "`exp`)")
    return problems


_STARTED = False  # set once a composed config reaches raygen (Hydra's own errors before)


def main() -> None:
    if sys.argv[1:2] == ["new"]:  # raygen new NAME STRUCTURES...: a starting experiment
        from raygen.cli.new import main as new

        sys.exit(new(sys.argv[2:]))
    if sys.argv[1:2] == ["run-dpgen"]:  # run-dpgen param.json [machine.json] [overrides]
        from raygen.cli.import_dpgen import ImportRefused, run_dpgen_argv

        try:
            sys.argv = [sys.argv[0], *run_dpgen_argv(sys.argv[2:])]
        except ImportRefused as err:
            print(f"raygen: {err}", file=sys.stderr)
            sys.exit(2)
    from raygen.state.stop import stop_on_signals

    stop_on_signals()  # a SIGTERM while the config is checked or Ray starts: a clean stop
    run_hydra(_main)


def run_hydra(hydra_main) -> None:
    """The user's YAML checked, then ``hydra_main()``; Hydra refusing the command line
    (a misspelt key, a wrong type) is bad input: exit 2, as raygen's own checks."""
    problems = check_user_yaml(sys.argv[1:])
    if problems:
        print("raygen: invalid configuration:\n" + "\n".join(f"  - {p}" for p in problems),
              file=sys.stderr)
        sys.exit(2)
    try:
        hydra_main()
    except SystemExit as err:
        if err.code == 1 and not _STARTED:
            sys.exit(2)
        raise


if __name__ == "__main__":
    main()
