"""DP-GEN's ``param.json`` / ``machine.json`` as a raygen experiment, key by key.

:func:`import_param` and :func:`import_machine` turn DP-GEN's dictionaries into the
settings of a raygen experiment and a report with one row per key: **mapped** (to which
raygen key), **ignored** (why: what raygen or Ray does instead) or **unsupported** (the
import is refused, naming the key; nothing is dropped silently). :data:`PARAM_KEYS` and
:data:`MACHINE_KEYS` are the table README's mapping is generated from. DP-GEN's dialects
read: the ``trj_freq``/``t_freq``/``traj_freq`` aliases, trust levels as a number, a list
by system or a ``{"sys_idx": level}`` dict, at top level or per job, deepmd-kit 1.x and
>= 2 training inputs (``stop_batch``/``numb_steps``, ``training.systems`` or
``training_data.systems``), the ``*_prefix`` keys, machine.json old and new
(``api_version`` 1.0) style.
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass, field
from typing import Any

MAPPED, IGNORED, UNSUPPORTED = "mapped", "ignored", "unsupported"


@dataclass
class Row:
    key: str
    status: str
    target: str = ""  # the raygen key, or why it is ignored / unsupported


@dataclass
class Import:
    """The experiment's settings (nested dicts) and the report, in input order."""

    settings: dict = field(default_factory=dict)
    defaults: dict = field(default_factory=dict)  # config group -> option (label: vasp)
    rows: list[Row] = field(default_factory=list)

    def set(self, path: str, value: Any) -> None:
        node = self.settings
        *parents, last = path.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[last] = value

    def row(self, key: str, status: str, target: str = "") -> None:
        self.rows.append(Row(key, status, target))

    @property
    def unsupported(self) -> list[Row]:
        return [r for r in self.rows if r.status == UNSUPPORTED]


def _join(prefix: str | None, path: str) -> str:
    return os.path.join(prefix, path) if prefix and not os.path.isabs(path) else path


def _levels(value: Any, n_sys: int, key: str) -> Any:
    """A trust level as raygen takes it: a number, or one per system (DP-GEN's list by
    sys_idx, or its ``{"sys_idx": level}`` dict; systems not in the dict are off)."""
    if isinstance(value, dict):
        return [float(value.get(str(i), 1e10)) for i in range(n_sys)]
    if isinstance(value, list):
        return [float(v) for v in value]
    return float(value)


# -- param.json ------------------------------------------------------------------------
# key -> (status, raygen key or reason); keys with a handler below are mapped by it
SIMPLE: dict[str, tuple[str, str]] = {
    "type_map": (MAPPED, "type_map"),
    "numb_models": (MAPPED, "train.numb_models"),
    "model_devi_dt": (MAPPED, "explore.dt"),
    "model_devi_skip": (MAPPED, "explore.model_devi_skip"),
    "model_devi_adapt_trust_lo": (MAPPED, "select.adapt_trust_lo"),
    "model_devi_numb_candi_f": (MAPPED, "select.numb_candi_f"),
    "model_devi_numb_candi_v": (MAPPED, "select.numb_candi_v"),
    "model_devi_perc_candi_f": (MAPPED, "select.perc_candi_f"),
    "model_devi_perc_candi_v": (MAPPED, "select.perc_candi_v"),
    "fp_task_max": (MAPPED, "select.fp_task_max"),
    "fp_task_min": (MAPPED, "select.fp_task_min"),
    "fp_accurate_threshold": (MAPPED, "select.fp_accurate_threshold"),
    "fp_accurate_soft_threshold": (MAPPED, "select.fp_accurate_soft_threshold"),
    "ratio_failed": (MAPPED, "label.max_failed_ratio"),
    "training_reuse_numb_steps": (MAPPED, "train.init_model_numb_steps"),
    "training_reuse_stop_batch": (MAPPED, "train.init_model_numb_steps"),
    "training_finetune_model": (MAPPED, "train.finetune.model"),
    "mass_map": (IGNORED, "masses are the elements' own (ASE), from type_map"),
    "init_batch_size": (IGNORED, "batch sizes are deepmd-kit's \"auto\" (or "
                                 "train.input.training.training_data.batch_size)"),
    "sys_batch_size": (IGNORED, "as init_batch_size"),
    "model_devi_clean_traj": (IGNORED, "trajectories are compact Parquet tables, kept"),
    "model_devi_merge_traj": (IGNORED, "trajectories stream to the deviation reducer"),
    "shuffle_poscar": (IGNORED, "atoms are not reordered"),
    "detailed_report_make_fp": (IGNORED, "candidate/rest files are always written"),
    "model_devi_engine": (MAPPED, "explore.engine"),  # checked below: lammps only
    "train_backend": (MAPPED, "train.backend"),  # checked below
    "fp_style": (MAPPED, "label"),  # checked below
}
UNSUPPORTED_WHY = {
    "training_iter0_model_path": "start iteration 0 from given models: use "
                                 "train.finetune.model (a pre-trained checkpoint)",
    "training_init_frozen_model": "start from frozen models: not in this version",
    "training_reuse_start_lr": "raygen scales the learning rate "
                               "(train.init_model_start_lr_scale) instead",
    "use_clusters": "cluster (non-periodic) models are not in this version",
    "use_ele_temp": "electronic temperature is not in this version",
    "user_fp_params": "raygen writes this code's input from its own label.* keys; "
                      "set them instead (mapped for vasp and cp2k)",
    "external_input_path": "raygen writes the code's input from its own label.* keys; "
                           "set them instead",
    "cvasp": "custodian-VASP is not in this version",
}
JOB_KEYS = {"sys_idx": "sys_idx", "temps": "temps", "press": "press", "nsteps": "nsteps",
            "ensemble": "ensemble", "trj_freq": "trj_freq", "t_freq": "trj_freq",
            "traj_freq": "trj_freq", "fp_task_max": "fp_task_max",
            "model_devi_f_trust_lo": "f_trust_lo", "model_devi_f_trust_hi": "f_trust_hi",
            "model_devi_v_trust_lo": "v_trust_lo", "model_devi_v_trust_hi": "v_trust_hi",
            "nbeads": "nbeads"}
JOB_TEMPLATE_KEYS = ("template", "rev_mat", "sys_rev_mat")
PLUMED_WHY = "DP-GEN reads the PLUMED template and keys only with it, and so does the importer"
JOB_UNSUPPORTED = {"pka_e": "primary knock-on atoms", "neidelay": "neighbor delay",
                   "model_devi_f_avg_relative": "relative deviations",
                   "model_devi_v_avg_relative": "relative deviations"}
FP_STYLES = {"vasp": "vasp", "cp2k": "cp2k", "pwscf": "qe", "abacus": "abacus",
             "gaussian": "gaussian", "siesta": "siesta"}
SKIP_TRAIN = ("skip_train", "skip_training", "s_t", "sk_tr")


def _sys_configs(imp: Import, param: dict) -> None:
    prefix = param.get("sys_configs_prefix")
    systems = []
    for i, globs in enumerate(param.get("sys_configs", [])):
        globs = [globs] if isinstance(globs, str) else list(globs)
        confs = [_join(prefix, g) for g in globs]
        systems.append({"name": f"sys{i:03d}", "confs": confs[0] if len(confs) == 1 else confs})
    imp.set("systems", systems)
    imp.row("sys_configs", MAPPED, "systems[].confs (one system per entry, named sys000...)")
    if "sys_configs_prefix" in param:
        imp.row("sys_configs_prefix", MAPPED, "joined into systems[].confs")


def _init_data(imp: Import, param: dict) -> None:
    prefix = param.get("init_data_prefix")
    imp.set("init.data", [_join(prefix, p) for p in param.get("init_data_sys", [])])
    imp.row("init_data_sys", MAPPED, "init.data")
    if "init_data_prefix" in param:
        imp.row("init_data_prefix", MAPPED, "joined into init.data")


OLD_FITTING_KEYS = ("coord_norm", "type_fitting_net")


def _training_param(imp: Import, param: dict) -> None:
    """deepmd-kit's input (1.x or >= 2): the data and seeds are raygen's (per member);
    the step count is ``train.numb_steps``."""
    inp = copy.deepcopy(param["default_training_param"])
    training = inp.get("training", {})
    steps = training.pop("numb_steps", None)
    steps = training.pop("stop_batch", steps)
    if steps is not None:
        imp.set("train.numb_steps", int(steps))
    for k in ("systems", "set_prefix", "batch_size", "seed"):  # 1.x data keys, seeds
        training.pop(k, None)
    training.get("training_data", {}).pop("systems", None)
    for part in ("descriptor", "fitting_net"):
        inp.get("model", {}).get(part, {}).pop("seed", None)
    fitting = inp.get("model", {}).get("fitting_net", {})
    for k in OLD_FITTING_KEYS:  # deepmd-kit 1.x keys that deepmd-kit >= 2 refuses
        if k in fitting:
            fitting.pop(k)
            imp.row(f"default_training_param.model.fitting_net.{k}", IGNORED,
                    "a deepmd-kit 1.x key that deepmd-kit >= 2 refuses (no effect since 2.0)")
    imp.set("train.input", inp)
    imp.row("default_training_param", MAPPED,
            "train.input (stop_batch/numb_steps -> train.numb_steps; data and seeds are "
            "set by raygen per member)")


def _trust(imp: Import, param: dict, key: str, n_sys: int) -> None:
    target = {"model_devi_f_trust_lo": "select.f_trust_lo",
              "model_devi_f_trust_hi": "select.f_trust_hi",
              "model_devi_v_trust_lo": "select.v_trust_lo",
              "model_devi_v_trust_hi": "select.v_trust_hi"}[key]
    imp.set(target, _levels(param[key], n_sys, key))
    imp.row(key, MAPPED, target)


def _jobs(imp: Import, param: dict, n_sys: int) -> None:
    jobs = []
    taut = {job.get("taut") for job in param["model_devi_jobs"] if "taut" in job}
    taup = {job.get("taup") for job in param["model_devi_jobs"] if "taup" in job}
    for j, job in enumerate(param["model_devi_jobs"]):
        out: dict[str, Any] = {}
        for k, v in job.items():
            where = f"model_devi_jobs[{j}].{k}"
            if k.startswith("_"):
                continue  # DP-GEN's own comments and _idx
            if k in JOB_KEYS:
                if k.startswith("model_devi_"):
                    v = _levels(v, n_sys, where)
                elif k == "ensemble":
                    v = str(v).lower()
                out[JOB_KEYS[k]] = v
            elif k in ("taut", "taup"):
                continue  # below: one value for all jobs
            elif k in JOB_TEMPLATE_KEYS:
                out[k] = _template_value(k, v, param)
            elif k in JOB_UNSUPPORTED:
                imp.row(where, UNSUPPORTED, f"{JOB_UNSUPPORTED[k]}: not in this version")
            else:
                imp.row(where, UNSUPPORTED, "not a model_devi_jobs key raygen knows")
        jobs.append(out)
    imp.set("explore.jobs", jobs)
    imp.row("model_devi_jobs", MAPPED, "explore.jobs (sys_idx, temps, press, nsteps, "
            "ensemble, trj_freq/t_freq/traj_freq, fp_task_max, per-job trust levels, "
            "template/rev_mat/sys_rev_mat)")
    for name, values, target in (("taut", taut, "explore.tau_t"),
                                 ("taup", taup, "explore.tau_p")):
        if len(values) == 1:
            imp.set(target, float(values.pop()))
            imp.row(f"model_devi_jobs[].{name}", MAPPED, target)
        elif values:
            imp.row(f"model_devi_jobs[].{name}", UNSUPPORTED,
                    f"different per job ({sorted(values)}); raygen has one {target}")


def _template_value(key: str, value: Any, param: dict) -> Any:
    """A job's template, rev_mat or sys_rev_mat as DP-GEN reads them: the PLUMED
    template and PLUMED keys only with ``model_devi_plumed``, ``plm_path`` only with
    ``model_devi_plumed_path``."""
    plumed = bool(param.get("model_devi_plumed", False))
    if key == "template":
        out = {"lmp": value.get("lmp")}
        if plumed and value.get("plm"):
            out["plm"] = value["plm"]
        if plumed and param.get("model_devi_plumed_path") and value.get("plm_path"):
            out["plm_path"] = value["plm_path"]
        return out

    def drop_plm(mat: dict) -> dict:
        return {k: v for k, v in mat.items() if plumed or k != "plm"}

    if key == "rev_mat":
        return drop_plm(value)
    return {str(s): drop_plm(m) for s, m in value.items()}


SMEARING = {"gauss": 0, "fd": -1}  # and mp[:order] -> order (DP-GEN's _make_smearing)
METAGGA = ("SCAN", "TPSS", "RTPSS", "M06L", "MBJ")


def vasp_tags_from_fp_params(fp: dict) -> dict[str, Any]:
    """The INCAR tags DP-GEN 0.14 writes from its old VASP shorthand ``fp_params``
    (``make_vasp_incar_user_dict``: ecut, ediff, npar, kpar, kspacing required; smearing
    gauss | fd | mp[:order], sigma, metagga, user_vasp_params on top)."""
    missing = [k for k in ("ecut", "ediff", "npar", "kpar", "kspacing") if k not in fp]
    if missing:
        raise KeyError(f"fp_params lacks {', '.join(missing)} (DP-GEN needs them)")
    tags: dict[str, Any] = {"PREC": "A", "ENCUT": fp["ecut"], "ISYM": 0, "ALGO": "fast",
                            "EDIFF": fp["ediff"], "LREAL": "A", "NPAR": fp["npar"],
                            "KPAR": fp["kpar"], "NELMIN": 4, "ISIF": 2}
    if fp.get("smearing") is not None:
        method, _, order = str(fp["smearing"]).partition(":")
        if method.lower() == "mp":
            tags["ISMEAR"] = int(order or 1)
        elif method.lower() in SMEARING:
            tags["ISMEAR"] = SMEARING[method.lower()]
        else:
            raise ValueError(f"fp_params.smearing: unknown method {fp['smearing']!r}")
    if fp.get("sigma") is not None:
        tags["SIGMA"] = fp["sigma"]
    tags.update({"IBRION": -1, "NSW": 0, "LWAVE": "F", "LCHARG": "F", "PSTRESS": 0,
                 "KSPACING": fp["kspacing"], "KGAMMA": "F"})
    metagga = fp.get("metagga")
    if metagga not in (None, "NONE"):
        if metagga not in METAGGA:
            raise ValueError(f"fp_params.metagga: unknown {metagga!r}")
        tags.update({"LASPH": "T", "METAGGA": metagga})
    for k, v in (fp.get("user_vasp_params") or {}).items():
        tags[k.upper()] = v
    tags.setdefault("NELM", 60)  # DP-GEN leaves it to VASP, whose default is 60 (raygen's: 100)
    return tags


def cp2k_from_user_fp_params(params: dict) -> tuple[dict, dict, dict]:
    """DP-GEN's CP2K ``user_fp_params`` (a section tree over its default input) as
    (raygen's ``label.overrides``, ``label.basis``, ``label.potential``): the KIND
    sections (DP-GEN's ``{"_": [elements], "BASIS_SET": [...], "POTENTIAL": [...]}`` or a
    list of KIND sections) become the per-element basis and potential; the cell and
    coordinates are raygen's own."""
    tree = copy.deepcopy(params)
    subsys = {k.upper(): v for k, v in (tree.get("FORCE_EVAL", {}).get("SUBSYS") or {}).items()}
    basis, potential = {}, {}
    kinds = subsys.pop("KIND", None)
    if isinstance(kinds, dict):
        names = kinds.get("_")
        names = [names] if isinstance(names, str) else list(names or [])
        for key, into in (("BASIS_SET", basis), ("POTENTIAL", potential)):
            values = kinds.get(key)
            if values is None:
                continue
            values = [values] if isinstance(values, str) else list(values)
            if len(values) != len(names):
                raise ValueError(f"SUBSYS.KIND.{key} has {len(values)} values for the "
                                 f"{len(names)} elements {names}")
            into.update(zip(names, values))
        other = set(kinds) - {"_", "BASIS_SET", "POTENTIAL"}
    elif isinstance(kinds, list):
        other = set()
        for kind in kinds:
            basis[kind["_"]] = kind.get("BASIS_SET")
            potential[kind["_"]] = kind.get("POTENTIAL")
            other |= set(kind) - {"_", "BASIS_SET", "POTENTIAL"}
        basis = {k: v for k, v in basis.items() if v}
        potential = {k: v for k, v in potential.items() if v}
    else:
        other = set()
    if other:
        raise ValueError(f"SUBSYS.KIND.{sorted(other)[0]}: raygen sets a kind's basis set "
                         "and potential only")
    for k in ("CELL", "COORD", "TOPOLOGY"):
        subsys.pop(k, None)
    if "FORCE_EVAL" in tree:
        if subsys:
            tree["FORCE_EVAL"]["SUBSYS"] = subsys
        else:
            tree["FORCE_EVAL"].pop("SUBSYS", None)
    return tree, basis, potential


def _fp(imp: Import, param: dict) -> set[str]:
    """label=... and its files; the keys it handled."""
    style = param["fp_style"]
    if style not in FP_STYLES:
        imp.row("fp_style", UNSUPPORTED, f"{style!r}: raygen labels with "
                f"{', '.join(FP_STYLES)} (as fp_style) or its own label=...")
        return {"fp_style"}
    label = FP_STYLES[style]
    imp.defaults["label"] = label
    imp.row("fp_style", MAPPED, f"label={label}")
    pp_files = param.get("fp_pp_files")
    type_map = list(param.get("type_map", []))
    handled = {"fp_style"}
    if style == "vasp":
        for k, target in (("fp_incar", "label.incar"), ("fp_pp_path", "label.pp_path")):
            if k in param:
                imp.set(target, param[k])
                imp.row(k, MAPPED, target)
                handled.add(k)
        if pp_files is not None and len(pp_files) != len(type_map):
            imp.row("fp_pp_files", UNSUPPORTED, f"{len(pp_files)} file(s) for the "
                    f"{len(type_map)} types {type_map}: raygen concatenates one POTCAR per "
                    "element (label.pp_files)")
            handled.add("fp_pp_files")
        elif pp_files is not None:
            imp.set("label.pp_files", dict(zip(type_map, pp_files)))
            imp.row("fp_pp_files", MAPPED, "label.pp_files (element -> file, by type_map)")
            handled.add("fp_pp_files")
        if isinstance(param.get("user_fp_params"), dict):
            tags = dict(param["user_fp_params"])
            if "KSPACING" in tags:
                imp.set("label.kspacing", float(tags.pop("KSPACING")))
            if "KGAMMA" in tags:
                imp.set("label.kgamma", bool(tags.pop("KGAMMA")))
            imp.set("label.incar_tags", tags)
            imp.row("user_fp_params", MAPPED, "label.incar_tags (KSPACING, KGAMMA -> "
                    "label.kspacing, label.kgamma)")
            handled.add("user_fp_params")
        if "fp_params" in param and "fp_incar" not in param:
            try:
                tags = vasp_tags_from_fp_params(param["fp_params"])
            except (KeyError, ValueError) as err:
                imp.row("fp_params", UNSUPPORTED, f"DP-GEN's old VASP shorthand: {err}")
            else:
                imp.set("label.kspacing", float(tags.pop("KSPACING")))
                imp.set("label.kgamma", tags.pop("KGAMMA") == "T")
                imp.set("label.incar_tags", tags)
                imp.row("fp_params", MAPPED, "label.incar_tags, label.kspacing, label.kgamma "
                        "(the INCAR DP-GEN's make_vasp_incar_user_dict writes)")
            handled.add("fp_params")
        elif "fp_params" in param:
            imp.row("fp_params", IGNORED, "fp_incar is given, and DP-GEN reads it instead")
            handled.add("fp_params")
    elif style == "cp2k" and isinstance(param.get("user_fp_params"), dict) \
            and "external_input_path" not in param:
        try:
            overrides, basis, potential = cp2k_from_user_fp_params(param["user_fp_params"])
        except ValueError as err:
            imp.row("user_fp_params", UNSUPPORTED, f"CP2K: {err}")
        else:
            imp.set("label.overrides", overrides)
            if basis:
                imp.set("label.basis", basis)
            if potential:
                imp.set("label.potential", potential)
            scf = overrides.get("FORCE_EVAL", {}).get("DFT", {}).get("SCF", {})
            if "OT" in scf:  # CP2K's OT takes no smearing (raygen's default has it)
                imp.set("label.smearing_temperature", None)
            imp.row("user_fp_params", MAPPED, "label.overrides (merged over raygen's CP2K "
                    "input, not DP-GEN's defaults); SUBSYS.KIND -> label.basis, "
                    "label.potential")
        handled.add("user_fp_params")
    elif style == "pwscf":
        if "fp_pp_path" in param:
            imp.set("label.pseudo_dir", param["fp_pp_path"])
            imp.row("fp_pp_path", MAPPED, "label.pseudo_dir")
            handled.add("fp_pp_path")
        if pp_files is not None:
            imp.set("label.pseudopotentials", dict(zip(type_map, pp_files)))
            imp.row("fp_pp_files", MAPPED, "label.pseudopotentials (by type_map)")
            handled.add("fp_pp_files")
    elif style == "abacus":
        for k, target in (("fp_pp_path", "label.pp_path"), ("fp_orb_path", "label.orb_path")):
            if k in param:
                imp.set(target, param[k])
                imp.row(k, MAPPED, target)
                handled.add(k)
        for k, target in (("fp_pp_files", "label.pp_files"), ("fp_orb_files",
                                                              "label.orb_files")):
            if k in param:
                imp.set(target, dict(zip(type_map, param[k])))
                imp.row(k, MAPPED, f"{target} (by type_map)")
                handled.add(k)
    elif style == "siesta" and "fp_pp_path" in param:
        imp.set("label.pp_path", param["fp_pp_path"])
        imp.row("fp_pp_path", MAPPED, "label.pp_path")
        handled.add("fp_pp_path")
    for k in param:
        if k.startswith("fp_") and k not in handled and k not in SIMPLE:
            imp.row(k, UNSUPPORTED, f"not mapped for fp_style {style}: set the label.* "
                    f"keys of label={label} (docs/configuration.md)")
            handled.add(k)
    return handled


def import_param(param: dict) -> Import:
    """raygen settings and the key-by-key report for a DP-GEN ``param.json``."""
    imp = Import()
    n_sys = len(param.get("sys_configs", []))
    done: set[str] = set()
    if "sys_configs" in param:
        _sys_configs(imp, param)
        done |= {"sys_configs", "sys_configs_prefix"}
    if "init_data_sys" in param:
        _init_data(imp, param)
        done |= {"init_data_sys", "init_data_prefix"}
    if "default_training_param" in param:
        _training_param(imp, param)
        done.add("default_training_param")
    if "model_devi_jobs" in param:
        _jobs(imp, param, n_sys)
        done.add("model_devi_jobs")
    if "fp_style" in param:
        done |= _fp(imp, param)
    for key, value in param.items():
        if key in done or key.startswith("_"):
            continue
        if key.startswith("model_devi_") and key.endswith(("_trust_lo", "_trust_hi")) \
                and key[len("model_devi_")] in "fv":
            _trust(imp, param, key, n_sys)
        elif key in SKIP_TRAIN:
            imp.row(key, UNSUPPORTED, "skipping training is not in this version")
        elif key == "training_init_model":
            imp.set("train.init_model_policy", "yes" if value else "no")
            imp.row(key, MAPPED, "train.init_model_policy (yes/no)")
        elif key == "train_backend":
            backends = {"tensorflow": "tf", "pytorch": "pt"}
            if value in backends:
                imp.set("train.backend", backends[value])
                imp.row(key, MAPPED, "train.backend")
            else:
                imp.row(key, UNSUPPORTED, f"{value!r}: raygen trains with tensorflow or "
                                          "pytorch")
        elif key == "model_devi_engine":
            if value == "lammps":
                imp.row(key, MAPPED, "explore.engine (lammps)")
            else:
                imp.row(key, UNSUPPORTED, f"{value!r}: raygen explores with LAMMPS")
        elif key in ("model_devi_plumed", "model_devi_plumed_path"):
            imp.row(key, MAPPED, "explore.jobs[].template.plm" if key == "model_devi_plumed"
                    else "explore.jobs[].template.plm_path (copied as plmpath.pdb)")
        elif key in SIMPLE:
            status, target = SIMPLE[key]
            if status == MAPPED:
                imp.set(target, value)
            imp.row(key, status, target)
        elif key in UNSUPPORTED_WHY:
            imp.row(key, UNSUPPORTED, UNSUPPORTED_WHY[key])
        else:
            imp.row(key, UNSUPPORTED, "a key raygen does not know")
    return imp


# -- machine.json ------------------------------------------------------------------------
MACHINE_KINDS = {"train": "trainer", "model_devi": "explorer", "fp": "labeler"}
DISPATCH_WHY = ("Ray replaces dpdispatcher: start raygen inside the allocation "
                "(slurm/raygen.sbatch, pbs/, lsf/, k8s/) and the workers go where "
                "cluster.* says")


def _resources(imp: Import, kind: str, res: dict, where: str) -> None:
    worker = MACHINE_KINDS[kind]
    for k, v in res.items():
        if k in ("numb_gpu", "gpu_per_node"):
            if v:
                imp.set(f"cluster.{worker}.num_gpus", 1.0)
                imp.row(f"{where}.{k}", MAPPED, f"cluster.{worker}.num_gpus (1 per worker)")
            else:
                imp.row(f"{where}.{k}", IGNORED, "no GPU: the default")
        elif k in ("task_per_node", "cpu_per_node") and kind == "fp" and v:
            imp.set(f"cluster.{worker}.num_cpus", float(v))
            imp.row(f"{where}.{k}", MAPPED, f"cluster.{worker}.num_cpus (a calculation's "
                    "cores)")
        else:
            imp.row(f"{where}.{k}", IGNORED, DISPATCH_WHY)


def import_machine(machine: dict, imp: Import | None = None) -> Import:
    """The cluster layout a DP-GEN ``machine.json`` describes (old style or
    ``api_version`` 1.0), into ``imp``."""
    imp = imp or Import()
    for key, value in machine.items():
        if key.startswith("_"):
            continue
        kind = next((k for k in MACHINE_KINDS if key in (k, f"{k}_resources")), None)
        if key in MACHINE_KINDS:  # new style: a list of {command, machine, resources}
            entry = value[0] if isinstance(value, list) and value else value
            for k, v in (entry or {}).items():
                if k == "resources":
                    _resources(imp, key, v, f"{key}.resources")
                elif k == "command" and key == "fp":
                    imp.set("label.command", v)
                    imp.row(f"{key}.command", MAPPED, "label.command")
                else:
                    imp.row(f"{key}.{k}", IGNORED, "raygen runs deepmd-kit and LAMMPS in "
                            "its workers" if k == "command" else DISPATCH_WHY)
        elif kind is not None:
            _resources(imp, kind, value, key)
        elif key == "fp_command":
            imp.set("label.command", value)
            imp.row(key, MAPPED, "label.command")
        elif key in ("deepmd_path", "python_path", "train_command", "model_devi_command",
                     "lmp_command"):
            imp.row(key, IGNORED, "raygen runs deepmd-kit and LAMMPS in its workers (its "
                    "own install)")
        else:
            imp.row(key, IGNORED, DISPATCH_WHY)
    return imp


PATH_KEYS = ("init.data", "systems[].confs", "label.incar", "label.pp_path",
             "label.pseudo_dir", "label.orb_path", "train.finetune.model")


def resolve_relative(settings: dict, base: str) -> None:
    """DP-GEN reads relative paths from where it runs (the param.json's folder, as a
    rule): the same paths taken from ``base``."""
    def fix(p):
        return p if os.path.isabs(p) else os.path.normpath(os.path.join(base, p))

    init = settings.get("init", {})
    if "data" in init:
        init["data"] = [fix(p) for p in init["data"]]
    for s in settings.get("systems", []):
        if s.get("confs"):
            s["confs"] = fix(s["confs"]) if isinstance(s["confs"], str) else \
                [fix(p) for p in s["confs"]]
    for group, key in (("label", "incar"), ("label", "pp_path"), ("label", "pseudo_dir"),
                       ("label", "orb_path")):
        if settings.get(group, {}).get(key):
            settings[group][key] = fix(settings[group][key])
    for job in settings.get("explore", {}).get("jobs", []):
        tpl = job.get("template") or {}
        for key in ("lmp", "plm", "plm_path"):
            if tpl.get(key):
                tpl[key] = fix(tpl[key])
    ft = settings.get("train", {}).get("finetune", {})
    if ft.get("model"):
        ft["model"] = fix(ft["model"])


def key_table() -> list[tuple[str, str, str]]:
    """(DP-GEN key, status, raygen key or why) of every key the importer knows: the
    table README's "Coming from DP-GEN" links to (docs/dpgen-keys.md)."""
    rows = [("type_map", MAPPED, "type_map"),
            ("sys_configs (+ sys_configs_prefix)", MAPPED,
             "systems[].confs, one system per entry (a glob or a list of globs)"),
            ("init_data_sys (+ init_data_prefix)", MAPPED, "init.data"),
            ("default_training_param", MAPPED,
             "train.input; stop_batch / numb_steps -> train.numb_steps"),
            ("model_devi_f_trust_lo/hi, model_devi_v_trust_lo/hi", MAPPED,
             "select.f_trust_lo/hi, v_trust_lo/hi (number, list or {\"sys_idx\": level})"),
            ("model_devi_jobs", MAPPED, "explore.jobs"),
            ("model_devi_jobs[].taut / taup", MAPPED,
             "explore.tau_t / tau_p (one value for all jobs)"),
            ("training_init_model", MAPPED, "train.init_model_policy (yes/no)"),
            ("train_backend", MAPPED, "train.backend (tensorflow -> tf, pytorch -> pt)"),
            ("fp_style", MAPPED, "label=vasp|cp2k|qe (pwscf)|abacus|gaussian|siesta"),
            ("fp_incar, fp_pp_path, fp_pp_files (vasp)", MAPPED,
             "label.incar, label.pp_path, label.pp_files (one POTCAR per element)"),
            ("user_fp_params (vasp)", MAPPED,
             "label.incar_tags; KSPACING, KGAMMA -> label.kspacing, label.kgamma"),
            ("user_fp_params (cp2k)", MAPPED,
             "label.overrides (over raygen's CP2K input); SUBSYS.KIND -> label.basis, "
             "label.potential"),
            ("fp_params (vasp's old shorthand)", MAPPED,
             "label.incar_tags / kspacing / kgamma: the INCAR DP-GEN writes from it"),
            ("fp_pp_path, fp_pp_files (pwscf)", MAPPED,
             "label.pseudo_dir, label.pseudopotentials"),
            ("fp_pp_path/files, fp_orb_path/files (abacus)", MAPPED,
             "label.pp_path/pp_files, label.orb_path/orb_files")]
    rows += [(k, st, t) for k, (st, t) in SIMPLE.items()
             if k not in ("type_map", "model_devi_engine", "train_backend", "fp_style")]
    rows += [(f"model_devi_jobs[].{k}", MAPPED, f"explore.jobs[].{v}")
             for k, v in JOB_KEYS.items()]
    rows += [("model_devi_jobs[].template {lmp, plm, plm_path}", MAPPED,
              "explore.jobs[].template.lmp / plm / plm_path (DP-GEN's reserved lines "
              "rewritten)"),
             ("model_devi_jobs[].rev_mat, sys_rev_mat", MAPPED,
              "explore.jobs[].rev_mat, sys_rev_mat (the same Cartesian product, job.json "
              "per task)"),
             ("model_devi_plumed", MAPPED, "explore.jobs[].template.plm; " + PLUMED_WHY),
             ("model_devi_plumed_path", MAPPED, "explore.jobs[].template.plm_path")]
    rows += [("default_training_param.model.fitting_net." + " / ".join(OLD_FITTING_KEYS),
              IGNORED, "deepmd-kit 1.x keys that deepmd-kit >= 2 refuses: dropped")]
    rows += [(k, UNSUPPORTED, why) for k, why in UNSUPPORTED_WHY.items()]
    rows += [(", ".join(SKIP_TRAIN), UNSUPPORTED, "skipping training is not in this version")]
    rows += [(f"model_devi_jobs[].{k}", UNSUPPORTED, f"{why}: not in this version")
             for k, why in JOB_UNSUPPORTED.items()]
    rows += [("machine: train/model_devi/fp resources numb_gpu", MAPPED,
              "cluster.trainer/explorer/labeler.num_gpus (1 per worker)"),
             ("machine: fp resources task_per_node / cpu_per_node", MAPPED,
              "cluster.labeler.num_cpus"),
             ("machine: fp_command / fp.command", MAPPED, "label.command"),
             ("machine: train/model_devi commands, deepmd_path, python_path", IGNORED,
              "raygen runs deepmd-kit and LAMMPS in its workers"),
             ("machine: *_machine, other resources, group sizes", IGNORED, DISPATCH_WHY),
             ("any other key", UNSUPPORTED, "refused, named (keys starting with _ are "
              "comments)")]
    return rows
