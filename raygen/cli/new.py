"""A starting experiment for your own system, from your structure files:

    raygen new mysys POSCAR_fcc POSCAR_bcc [--confs 'sys_configs/*/POSCAR'] \\
        [--type-map Cu] [--label emt] [--temps 300 600 900] [--dir experiments]

writes ``experiments/exp/mysys.yaml`` (with the ``# @package _global_`` line an
experiment needs), checks it as a run would, and prints the command that runs it:

    python -m raygen --config-dir experiments +exp=mysys

Each structure file (anything ASE reads: POSCAR, extxyz, cif, ...) becomes a system
(``structure: file``) that is relaxed, perturbed and explored; each ``--confs`` glob a
system of ready configurations used as given (DP-GEN's ``sys_configs``). The initial
data come from the structure files (DP-GEN's ``init_bulk``). The element list
(``type_map``) is read from the files unless given. With ``--label emt`` (the default,
for the elements ASE's EMT knows) the experiment runs at once; with a DFT labeler it
is ready but for that code's own settings (``label.command`` and its files), and
structures are not relaxed (give them at your level of theory). Edit the file freely:
every key is in docs/configuration.md.
"""

from __future__ import annotations

import argparse
import glob
import math
import re
import sys
from pathlib import Path

import yaml

from raygen.config.plugins import LABELERS

EMT_ELEMENTS = ("Ag", "Al", "Au", "C", "Cu", "H", "N", "Ni", "O", "Pd", "Pt")
IN_PROCESS = ("emt", "ase")  # labelers with a calculator raygen can relax and run MD with


def _species(paths: list[Path]) -> list[str]:
    """Elements of the files' first frames, in order of first appearance."""
    from ase.io import read

    seen: dict[str, None] = {}
    for p in paths:
        for el in read(p, index=0).get_chemical_symbols():
            seen.setdefault(el, None)
    return list(seen)


def _repeats(path: Path, at_least: int = 32) -> int:
    """Repeats along each axis that bring a structure file to ``at_least`` atoms."""
    from ase.io import read

    n = len(read(path, index=0))
    return max(1, math.ceil((at_least / n) ** (1 / 3) - 1e-9))


def _name(path: Path, taken: set[str]) -> str:
    """A system name from a file name (letters, digits, ``_ . -``), unique."""
    stem = path.name if path.stem.upper() in ("POSCAR", "CONTCAR") else path.stem
    if stem.upper() in ("POSCAR", "CONTCAR") and path.parent.name:
        stem = path.parent.name
    base = re.sub(r"[^A-Za-z0-9_.\-]", "_", stem).strip("._-") or "system"
    name, k = base, 1
    while name in taken:
        k += 1
        name = f"{base}_{k}"
    taken.add(name)
    return name


def experiment(name: str, structures: list[Path], confs: list[str], type_map: list[str],
               label: str, temps: list[float], nsteps: int) -> dict:
    """The experiment as a mapping (what the YAML file holds)."""
    in_process = label in IN_PROCESS
    taken: set[str] = set()
    systems = []
    for p in structures:
        s = {"name": _name(p, taken), "structure": "file", "path": str(p.resolve()),
             "n_confs": 4}
        reps = _repeats(p)
        if reps > 1:  # small cells: MD and deviations need room (>= 32 atoms)
            s["supercell"] = [reps, reps, reps]
        if not in_process:
            s["relax"] = False
        systems.append(s)
    for pattern in confs:
        base = Path(pattern.split("*")[0].rstrip("/") or "confs")
        systems.append({"name": _name(base, taken), "confs": str(Path(pattern).absolute())})
    init_from = [s["name"] for s in systems if "path" in s] or [s["name"] for s in systems]
    every = list(range(len(systems)))
    jobs = [{"sys_idx": list(every), "temps": [float(t)], "press": [1.0], "ensemble": "npt",
             "nsteps": int(nsteps), "trj_freq": 10} for t in temps]
    return {
        "workdir": f"{name}_run",
        "type_map": list(type_map),
        "systems": systems,
        "init": {"systems": init_from, "scales": [1.0, 0.98, 1.02], "n_perturb": 3,
                 "md_steps": 20 if in_process else 0},
        "train": {"numb_steps": 2000},
        "explore": {"jobs": jobs},
        "select": {"f_trust_lo": 0.05, "f_trust_hi": 0.20, "fp_task_max": 20},
        "defaults": [{"override /label": label}],
    }


HEADER = """# @package _global_
# A raygen experiment for {name}, written by `raygen new` from {what}.
# Run it:   python -m raygen --config-dir {dir} +exp={name}
# Every key (types, defaults, units): docs/configuration.md. Trust levels are in eV/Å;
# each job of explore.jobs is one iteration (DP-GEN's model_devi_jobs).
"""


def write(path: Path, exp: dict, name: str, what: str, conf_dir: Path) -> None:
    defaults = exp.pop("defaults")
    body = yaml.safe_dump({"defaults": defaults, **exp}, sort_keys=False,
                          default_flow_style=None, width=100)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(HEADER.format(name=name, what=what, dir=conf_dir) + body)


def check(conf_dir: Path, name: str) -> list[str]:
    """The problems a run of the written experiment would be refused with."""
    from hydra import compose, initialize_config_module
    from hydra.core.global_hydra import GlobalHydra

    from raygen.config.paths import resolve_paths
    from raygen.config.schema import register_configs
    from raygen.validate import ConfigError, validate

    register_configs()
    GlobalHydra.instance().clear()
    with initialize_config_module(version_base=None, config_module="raygen.conf"):
        cfg = compose(config_name="config", overrides=[
            f"+exp={name}", f"hydra.searchpath=[file://{conf_dir.resolve()}]"])
    try:
        resolve_paths(cfg)
        validate(cfg)
    except ConfigError as err:
        return err.problems
    return []


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="raygen new", description=__doc__.split("\n\n")[0])
    p.add_argument("name", help="the experiment's name (+exp=NAME)")
    p.add_argument("structures", nargs="*", type=Path,
                   help="structure files (POSCAR, extxyz, cif, ...), one system each")
    p.add_argument("--confs", nargs="+", default=[], metavar="GLOB",
                   help="globs of ready starting configurations (DP-GEN's sys_configs)")
    p.add_argument("--type-map", nargs="+", metavar="EL",
                   help="elements of the models' atom types (default: from the files)")
    p.add_argument("--label", default="emt", choices=sorted(LABELERS),
                   help="the labeler (default: emt)")
    p.add_argument("--temps", nargs="+", type=float, default=[300.0, 600.0, 900.0],
                   help="MD temperatures, one exploration iteration each (K)")
    p.add_argument("--nsteps", type=int, default=2000, help="MD steps per task")
    p.add_argument("--dir", type=Path, default=Path("experiments"),
                   help="the config directory to write <dir>/exp/NAME.yaml in")
    p.add_argument("--force", action="store_true", help="overwrite an existing file")
    args = p.parse_args(argv)

    def fail(msg: str) -> int:
        print(f"raygen new: {msg}", file=sys.stderr)
        return 2

    if not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.\-]*", args.name):
        return fail(f"{args.name!r}: use letters, digits and _ . - for the name")
    if not args.structures and not args.confs:
        return fail("give structure files, or --confs globs, or both")
    missing = [str(s) for s in args.structures if not s.is_file()]
    if missing:
        return fail(f"not a file: {', '.join(missing)}")
    empty = [g for g in args.confs if not glob.glob(g)]
    if empty:
        return fail(f"no file matches {', '.join(empty)}")
    files = list(args.structures) + [Path(sorted(glob.glob(g))[0]) for g in args.confs]
    try:
        found = _species(files)
    except Exception as err:  # noqa: BLE001 - ASE raises many types for a bad file
        return fail(f"cannot read the structures: {err}")
    type_map = args.type_map or found
    if args.label == "emt" and set(type_map) - set(EMT_ELEMENTS):
        return fail(f"EMT knows {', '.join(EMT_ELEMENTS)} only, not "
                    f"{', '.join(sorted(set(type_map) - set(EMT_ELEMENTS)))}; choose a "
                    "labeler with --label (e.g. cp2k, qe, vasp)")
    out = args.dir / "exp" / f"{args.name}.yaml"
    if out.exists() and not args.force:
        return fail(f"{out} exists; --force to overwrite it")
    what = ", ".join([str(s) for s in args.structures] + args.confs)
    write(out, experiment(args.name, args.structures, args.confs, type_map, args.label,
                          args.temps, args.nsteps), args.name, what, args.dir)
    problems = check(args.dir, args.name)
    print(f"wrote {out}: {len(type_map)} element(s) {type_map}, "
          f"{len(args.structures) + len(args.confs)} system(s), label={args.label}")
    if problems:
        print("before it can run, set:\n" + "\n".join(f"  - {q}" for q in problems))
        return 1
    print(f"run it:   python -m raygen --config-dir {args.dir} +exp={args.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
