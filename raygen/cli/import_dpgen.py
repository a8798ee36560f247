"""``python -m raygen.cli.import_dpgen param.json [machine.json]``: DP-GEN's inputs as a
raygen experiment (``<out>/exp/<name>.yaml``) and a key-by-key report beside it
(``<out>/<name>.import.md``); ``python -m raygen run-dpgen param.json [machine.json]
[overrides]`` imports and runs in one step. Keys raygen cannot honour are refused
(exit 2, listed), never dropped; the experiment is then composed and validated as a run
would be."""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import yaml

from raygen.config.dpgen_import import (
    IGNORED,
    MAPPED,
    UNSUPPORTED,
    Import,
    import_machine,
    import_param,
    key_table,
    resolve_relative,
)


class ImportRefused(ValueError):
    """Bad input files, or keys raygen cannot honour (listed)."""


def read_json(path: Path, what: str) -> dict:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise ImportRefused(f"{what} {path}: no such file") from None
    except json.JSONDecodeError as err:
        raise ImportRefused(f"{what} {path}: not JSON (line {err.lineno}, column "
                            f"{err.colno}: {err.msg})") from None
    if not isinstance(data, dict):
        raise ImportRefused(f"{what} {path}: holds a {type(data).__name__}, not an object")
    return data


def report(imp: Import, param: Path, machine: Path | None) -> str:
    lines = [f"# raygen import of {param}" + (f" and {machine}" if machine else ""), "",
             "| DP-GEN key | status | raygen key / why |", "|---|---|---|"]
    lines += [f"| `{r.key}` | {r.status} | {r.target} |" for r in imp.rows]
    counts = {s: sum(r.status == s for r in imp.rows) for s in (MAPPED, IGNORED, UNSUPPORTED)}
    lines += ["", ", ".join(f"{n} {s}" for s, n in counts.items())]
    return "\n".join(lines) + "\n"


def experiment_yaml(imp: Import, param: Path) -> str:
    head = ["# @package _global_", f"# imported from {param} by raygen.cli.import_dpgen"]
    body = {}
    if imp.defaults:
        body["defaults"] = [{f"override /{g}": o} for g, o in imp.defaults.items()]
    body.update(imp.settings)
    return "\n".join(head) + "\n" + yaml.safe_dump(body, sort_keys=False)


def name_of(param: Path) -> str:
    return "dpgen_" + re.sub(r"[^A-Za-z0-9_]+", "_", param.stem).strip("_")


def import_files(param: Path, machine: Path | None, out: Path, name: str) -> Path:
    """Write the report and, when nothing is unsupported, the experiment; its path."""
    imp = import_param(read_json(param, "param.json"))
    if machine is not None:
        import_machine(read_json(machine, "machine.json"), imp)
    resolve_relative(imp.settings, str(param.resolve().parent))
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.import.md").write_text(report(imp, param, machine))
    if imp.unsupported:
        listing = "\n".join(f"  - {r.key}: {r.target}" for r in imp.unsupported)
        raise ImportRefused(f"{param}: {len(imp.unsupported)} key(s) raygen cannot honour "
                            f"(nothing was dropped; the whole report is in "
                            f"{out / (name + '.import.md')}):\n{listing}")
    exp = out / "exp" / f"{name}.yaml"
    exp.parent.mkdir(exist_ok=True)
    exp.write_text(experiment_yaml(imp, param))
    return exp


def validation_problems(out: Path, name: str, overrides: list[str]) -> list[str]:
    """The imported experiment composed and validated as ``python -m raygen`` would."""
    from hydra import compose, initialize_config_module
    from hydra.core.global_hydra import GlobalHydra

    from raygen.config.paths import resolve_paths
    from raygen.config.schema import register_configs
    from raygen.validate import ConfigError, validate

    register_configs()
    GlobalHydra.instance().clear()
    try:
        with initialize_config_module(version_base=None, config_module="raygen.conf"):
            cfg = compose(config_name="config", overrides=[
                f"hydra.searchpath=[file://{out.resolve()}]", f"+exp={name}", *overrides])
    except Exception as err:  # noqa: BLE001 - Hydra's composition errors, one line
        return [str(err).splitlines()[0]]
    resolve_paths(cfg)
    try:
        validate(cfg)
    except ConfigError as err:
        return err.problems
    return []


def write_table(path: Path) -> None:
    lines = ["# DP-GEN's keys in raygen", "",
             "Generated from `raygen.config.dpgen_import.key_table()` "
             "(`python -m raygen.cli.import_dpgen --write-table`).", "",
             "| DP-GEN key | status | raygen key / why |", "|---|---|---|"]
    lines += [f"| `{k}` | {s} | {t} |" for k, s, t in key_table()]
    path.write_text("\n".join(lines) + "\n")


TABLE = Path(__file__).resolve().parents[2] / "docs" / "dpgen-keys.md"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("param", type=Path, nargs="?")
    ap.add_argument("machine", type=Path, nargs="?")
    ap.add_argument("--out", type=Path, default=Path("raygen_dpgen"),
                    help="config directory to write exp/<name>.yaml into")
    ap.add_argument("--name", default=None, help="experiment name (default dpgen_<stem>)")
    ap.add_argument("--write-table", action="store_true",
                    help=f"write the key table to {TABLE}")
    args = ap.parse_args(argv)
    if args.write_table:
        write_table(TABLE)
        print(f"wrote {TABLE}")
        return 0
    if args.param is None:
        ap.error("give param.json")
    name = args.name or name_of(args.param)
    try:
        exp = import_files(args.param, args.machine, args.out, name)
    except ImportRefused as err:
        print(f"raygen: {err}", file=sys.stderr)
        return 2
    print(f"wrote {exp} (report: {args.out / (name + '.import.md')})")
    problems = validation_problems(args.out, name, [])
    if problems:
        print("raygen: the experiment does not validate here yet:\n"
              + "\n".join(f"  - {p}" for p in problems), file=sys.stderr)
        return 2
    print(f"run it: python -m raygen --config-dir {args.out} +exp={name} workdir=...")
    return 0


def run_dpgen_argv(argv: list[str]) -> list[str]:
    """``run-dpgen param.json [machine.json] [overrides]`` -> the arguments of
    ``python -m raygen`` that run the imported experiment (raises ImportRefused)."""
    files = [a for a in argv[:2] if a.endswith(".json")]
    if not files:
        raise ImportRefused("run-dpgen: give param.json (and machine.json)")
    param = Path(files[0])
    machine = Path(files[1]) if len(files) > 1 else None
    out = param.resolve().parent / ".raygen_dpgen"
    name = name_of(param)
    import_files(param, machine, out, name)
    overrides = argv[len(files):]
    if not any(o.startswith("workdir=") for o in overrides):
        overrides.append(f"workdir={param.resolve().parent / 'raygen_run'}")
    return ["--config-dir", str(out), f"+exp={name}", *overrides]


if __name__ == "__main__":
    sys.exit(main())
