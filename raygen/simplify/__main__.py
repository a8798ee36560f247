"""``python -m raygen.simplify simplify.pick_data=[...] ...``: compose the config (the
same groups as ``python -m raygen``: ``train``, ``label``, ``cluster``, ``+exp=...``),
validate it for simplify, run it. Exit codes as ``python -m raygen``: 2 bad input
(before anything starts), 1 a failed run, 130 interrupted (resumable)."""

from __future__ import annotations

if __name__ == "__main__":
    from raygen.state.stop import driver_signals

    driver_signals()

import sys  # noqa: E402 - after the signal handlers, before the slow imports

import hydra  # noqa: E402
from omegaconf import DictConfig, OmegaConf  # noqa: E402

from raygen.__main__ import check_user_yaml, failure_lines, log_traceback  # noqa: E402
from raygen.config.paths import resolve_paths  # noqa: E402
from raygen.config.schema import register_configs  # noqa: E402
from raygen.validate import ConfigError, validate  # noqa: E402

register_configs()
_STARTED = False


@hydra.main(version_base=None, config_path="pkg://raygen.conf", config_name="config")
def _main(cfg: DictConfig) -> None:
    global _STARTED
    _STARTED = True
    try:
        resolve_paths(cfg)
        validate(cfg, simplify=True)
    except ConfigError as err:
        print(f"raygen: {err}", file=sys.stderr)
        sys.exit(2)
    from raygen.simplify.run import Simplify

    OmegaConf.set_readonly(cfg, True)
    try:
        Simplify(cfg).run()
    except KeyboardInterrupt:
        print("raygen: interrupted; finished work is kept in "
              f"{cfg.workdir}: run the same command to resume", file=sys.stderr)
        sys.exit(130)
    except Exception as err:  # noqa: BLE001 - one line for the user, traceback in the log
        print(failure_lines(err, cfg.workdir, log_traceback(cfg.workdir)), file=sys.stderr)
        sys.exit(1)


def main() -> None:
    problems = check_user_yaml(sys.argv[1:])
    if problems:
        print("raygen: invalid configuration:\n" + "\n".join(f"  - {p}" for p in problems),
              file=sys.stderr)
        sys.exit(2)
    try:
        _main()
    except SystemExit as err:
        if err.code == 1 and not _STARTED:  # Hydra refused the command line: bad input
            sys.exit(2)
        raise


if __name__ == "__main__":
    main()
