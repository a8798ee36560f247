"""Checks of a composed config that need more than types; run before Ray starts.

Every problem is reported at once, each naming the key (and file) and what is
wrong, so nothing expensive starts on a config that cannot finish.
"""

from __future__ import annotations

import copy
import dataclasses
import os
from pathlib import Path

import numpy as np
from ase.data import atomic_numbers
from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from raygen.config.schema import (
    WORKER_KINDS,
    RaygenConfig,
    explore_config_class,
    label_config_class,
)
from raygen.science.dataset import deepmd_systems, system_type_map
from raygen.science.structures import _SURFACES
from raygen.selection.trust import resolve_levels
from raygen.state.workdir import check_path_name


class ConfigError(ValueError):
    """A config that cannot run; ``problems`` lists every ``key: what is wrong``."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid configuration:\n" + "\n".join(f"  - {p}" for p in problems))


def validate(cfg) -> None:
    """Raise :class:`ConfigError` listing every problem of ``cfg``."""
    problems: list[str] = []
    add = problems.append
    if not _check_schema(cfg, add):
        raise ConfigError(problems)
    _check_run(cfg, add)
    _check_type_map(cfg, add)
    _check_systems(cfg, add)
    _check_init(cfg, add)
    _check_train(cfg, add)
    _check_explore(cfg, add)
    _check_select(cfg, add)
    _check_label(cfg, add)
    _check_cluster(cfg, add)
    _check_props(cfg, add)
    if problems:
        raise ConfigError(problems)


def _check_props(cfg, add) -> None:
    """The property tests at the end of a run (props.enabled): their settings, one
    element, and a reference that can relax structures in process."""
    if not cfg.props.enabled:
        return
    from raygen.labelers import make_labeler
    from raygen.props.runner import check

    try:
        check(cfg.props, cfg.props.crystal)
    except ValueError as err:
        for problem in str(err).split("; "):
            add(problem)
    if not cfg.props.element and len(cfg.type_map) != 1:
        add(f"props.element: type_map {list(cfg.type_map)} has several elements; name the "
            "one the property tests are for")
    if make_labeler(cfg.label).reference_calculator() is None:
        add(f"props.enabled: label={cfg.label.name} runs as a program; property tests relax "
            "structures, which needs an in-process calculator (label=emt, label=ase)")


def _check_schema(cfg, add) -> bool:
    """Every key is one raygen reads, however it was added (``+key=value`` adds keys
    that Hydra itself would refuse without the ``+``)."""
    try:
        schema = OmegaConf.structured(RaygenConfig)
        schema.label = OmegaConf.structured(label_config_class(cfg.label.name))
        schema.explore = OmegaConf.structured(explore_config_class(cfg.explore.engine))
        merged = OmegaConf.merge(schema, cfg)
    except (OmegaConfBaseException, ValueError) as err:
        add(f"{getattr(err, 'full_key', '') or 'config'}: {str(err).splitlines()[0]}")
        return False
    unknown = list(_unknown_keys(merged, ""))
    for key in unknown:
        add(f"{key}: unknown key (not a raygen setting; check its spelling)")
    return not unknown


def _unknown_keys(node, prefix: str):
    """Keys of ``node`` that its dataclass does not declare, recursively."""
    if node is None or (OmegaConf.is_config(node) and node._is_none()):
        return
    if OmegaConf.is_list(node):
        for k, item in enumerate(node):
            yield from _unknown_keys(item, f"{prefix}[{k}]")
        return
    if not OmegaConf.is_dict(node):
        return
    typ = OmegaConf.get_type(node)
    if not dataclasses.is_dataclass(typ):
        return  # a free-form dict (train.input: deepmd-kit checks its own keys)
    known = {f.name for f in dataclasses.fields(typ)}
    for key in node.keys():
        path = f"{prefix}.{key}" if prefix else str(key)
        if key not in known:
            yield path
        else:
            yield from _unknown_keys(node._get_node(key), path)


def _check_run(cfg, add) -> None:
    if cfg.max_iter is not None and cfg.max_iter < 0:
        add(f"max_iter: must be >= 0 or null, got {cfg.max_iter}")
    root = Path(cfg.workdir)
    probe = root
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        add(f"workdir: {probe} is a file, not a directory")
    elif probe.exists() and not os.access(probe, os.W_OK | os.X_OK):
        add(f"workdir: {probe} is not writable; choose a run directory you can write "
            "(workdir=...)")


def _check_type_map(cfg, add) -> None:
    if not cfg.type_map:
        add("type_map: is empty; list the element of each atom type, e.g. [Cu]")
    for el in cfg.type_map:
        if el not in atomic_numbers:
            add(f"type_map: {el!r} is not a chemical element")
    if len(set(cfg.type_map)) != len(cfg.type_map):
        add(f"type_map: has duplicates: {list(cfg.type_map)}")


def _check_systems(cfg, add) -> None:
    if not cfg.systems:
        add("systems: is empty; give at least one exploration system")
    names = [s.name for s in cfg.systems]
    if len(set(names)) != len(names):
        add(f"systems: names must be unique, got {names}")
    for i, s in enumerate(cfg.systems):
        key = f"systems[{i}] ({s.name})"
        why = check_path_name(s.name)
        if why:
            add(f"systems[{i}].name: {why}")
        if s.confs:
            import glob

            if not glob.glob(s.confs):
                add(f"{key}.confs: no file matches {s.confs}")
        elif s.structure == "file":
            if not s.path:
                add(f"{key}.path: structure=file needs a structure file")
            elif not Path(s.path).exists():
                add(f"{key}.path: file {s.path} does not exist")
        elif s.element not in cfg.type_map:
            add(f"{key}.element: {s.element!r} is not in type_map {list(cfg.type_map)}")
        if s.structure == "surface" and s.miller not in _SURFACES:
            add(f"{key}.miller: {s.miller!r} is not one of {', '.join(_SURFACES)}")
        if len(s.supercell) != 3 or any(int(n) < 1 for n in s.supercell):
            add(f"{key}.supercell: needs three positive integers, got {list(s.supercell)}")
        if s.vacancies < 0:
            add(f"{key}.vacancies: must be >= 0, got {s.vacancies}")
        if s.n_confs < 1:
            add(f"{key}.n_confs: must be >= 1, got {s.n_confs}")
        if s.atom_pert < 0 or s.cell_pert < 0:
            add(f"{key}: atom_pert and cell_pert must be >= 0")


def _check_init(cfg, add) -> None:
    init = cfg.init
    for i, d in enumerate(init.data):
        path = Path(d)
        if not path.exists():
            add(f"init.data[{i}]: {d} does not exist")
            continue
        systems = deepmd_systems(path)
        if not systems:
            add(f"init.data[{i}]: no deepmd/npy system (type.raw) under {d}")
        for sysdir in systems:
            tm = system_type_map(sysdir)
            if tm and not set(tm) <= set(cfg.type_map):
                add(f"init.data[{i}]: {sysdir}/type_map.raw {tm} does not match "
                    f"type_map {list(cfg.type_map)}")
            elif not tm:
                types = np.loadtxt(sysdir / "type.raw", dtype=int, ndmin=1)
                if types.size and (types.max() >= len(cfg.type_map) or types.min() < 0):
                    add(f"init.data[{i}]: {sysdir}/type.raw has atom types up to "
                        f"{int(types.max())} but type_map {list(cfg.type_map)} has "
                        f"{len(cfg.type_map)} (and the system has no type_map.raw)")
    if not init.data:
        names = {s.name for s in cfg.systems}
        if not init.systems:
            add("init.systems: init.data is empty, so name the systems to make initial "
                "data from (DP-GEN's init_bulk)")
        for n in init.systems:
            if n not in names:
                add(f"init.systems: {n!r} is not a system name ({', '.join(sorted(names))})")
    if any(s <= 0 for s in init.scales):
        add(f"init.scales: must be > 0, got {list(init.scales)}")
    if any(not 0 < s < 0.2 for s in init.strains):
        add(f"init.strains: each must be in (0, 0.2) (a fraction, e.g. 0.02), got "
            f"{list(init.strains)}")
    if init.n_perturb < 1:
        add(f"init.n_perturb: must be >= 1, got {init.n_perturb}")
    if init.md_steps < 0 or init.md_stride < 1:
        add("init.md_steps must be >= 0 and init.md_stride >= 1")


def _check_train(cfg, add) -> None:
    t = cfg.train
    if t.numb_models < 2:
        add(f"train.numb_models: a deviation needs >= 2 models, got {t.numb_models}")
    if t.numb_steps < 1:
        add(f"train.numb_steps: must be >= 1, got {t.numb_steps}")
    if t.init_model_numb_steps is not None and t.init_model_numb_steps < 1:
        add(f"train.init_model_numb_steps: must be >= 1, got {t.init_model_numb_steps}")
    if t.disp_freq < 1:
        add(f"train.disp_freq: must be >= 1, got {t.disp_freq}")
    f = t.final
    if f.numb_steps is not None and f.numb_steps < 1:
        add(f"train.final.numb_steps: must be >= 1 (or null: off), got {f.numb_steps}")
    if f.start_lr is not None and not f.start_lr > 0:
        add(f"train.final.start_lr: must be > 0, got {f.start_lr}")
    training = t.input.get("training", {}) if t.input else {}
    disp = training.get("disp_freq", t.disp_freq)
    save = training.get("save_freq")
    if save is not None and disp and save % disp:
        # deepmd-kit (TF) checks save_freq only at display steps: no checkpoint otherwise
        add(f"train.input.training.save_freq: {save} must be a multiple of disp_freq "
            f"{disp}, or deepmd-kit writes no checkpoint to freeze")
    if t.backend == "pt":
        try:
            import deepmd.pt  # noqa: F401
        except Exception as err:  # noqa: BLE001
            add(f"train.backend: 'pt' needs deepmd-kit's PyTorch backend, which does not "
                f"load here ({type(err).__name__}: {str(err)[:120]}); use backend=tf on CPU")
    _check_deepmd_input(cfg, add)


def _check_deepmd_input(cfg, add) -> None:
    """deepmd-kit's own schema check of the training template (strict keys)."""
    from deepmd.utils.argcheck import normalize

    inp = OmegaConf.to_container(cfg.train.input, resolve=True) if OmegaConf.is_config(
        cfg.train.input) else copy.deepcopy(dict(cfg.train.input))
    if not inp:
        add("train.input: is empty; give DeePMD-kit's model/learning_rate/loss/training")
        return
    inp.setdefault("model", {})["type_map"] = list(cfg.type_map)
    training = inp.setdefault("training", {})
    training["training_data"] = {**training.get("training_data", {}), "systems": ["."]}
    training.setdefault("numb_steps", cfg.train.numb_steps)
    try:
        normalize(copy.deepcopy(inp))
    except Exception as err:  # noqa: BLE001 - dargs raises several types
        add(f"train.input: rejected by deepmd-kit: {err}")
        return
    over = OmegaConf.to_container(cfg.train.final.input, resolve=True) if OmegaConf.is_config(
        cfg.train.final.input) else copy.deepcopy(dict(cfg.train.final.input))
    if over:
        from raygen.steps.final_train import merge

        try:
            normalize(merge(inp, over))
        except Exception as err:  # noqa: BLE001
            add(f"train.final.input: merged over train.input, rejected by deepmd-kit: {err}")


def _check_explore(cfg, add) -> None:
    e = cfg.explore
    if not e.jobs:
        add("explore.jobs: is empty; give at least one exploration job")
    for name in ("dt", "tau_t", "tau_p"):
        if getattr(e, name) <= 0:
            add(f"explore.{name}: must be > 0, got {getattr(e, name)}")
    if e.deviation_batch < 1:
        add(f"explore.deviation_batch: must be >= 1, got {e.deviation_batch}")
    nsys = len(cfg.systems)
    for j, job in enumerate(e.jobs):
        key = f"explore.jobs[{j}]"
        if not job.sys_idx:
            add(f"{key}.sys_idx: is empty")
        bad = [s for s in job.sys_idx if not 0 <= s < nsys]
        if bad:
            add(f"{key}.sys_idx: {bad} out of range; there are {nsys} systems")
        if not job.temps or any(t <= 0 for t in job.temps):
            add(f"{key}.temps: needs temperatures > 0 K, got {list(job.temps)}")
        if str(job.ensemble).startswith("npt") and not job.press:
            add(f"{key}.press: {job.ensemble} needs pressures (bar)")
        if job.nsteps < 1 or job.trj_freq < 1:
            add(f"{key}: nsteps and trj_freq must be >= 1")
        elif job.trj_freq > job.nsteps:
            add(f"{key}.trj_freq: {job.trj_freq} > nsteps {job.nsteps} records only step 0")
        if job.confs_per_sys is not None and job.confs_per_sys < 1:
            add(f"{key}.confs_per_sys: must be >= 1 or null")


def _check_select(cfg, add) -> None:
    s = cfg.select
    if s.fp_task_max < 0 or s.fp_task_min < 0:
        add("select.fp_task_max and select.fp_task_min must be >= 0")
    if not 0 <= s.fp_accurate_threshold <= 1:
        add(f"select.fp_accurate_threshold: must be in [0, 1], got {s.fp_accurate_threshold}")
    soft = s.fp_accurate_soft_threshold
    if soft is not None and not 0 <= soft <= s.fp_accurate_threshold:
        add(f"select.fp_accurate_soft_threshold: must be in [0, fp_accurate_threshold], got {soft}")
    if s.converge_accurate_ratio is not None and not 0 < s.converge_accurate_ratio <= 1:
        add(f"select.converge_accurate_ratio: must be in (0, 1] or null, "
            f"got {s.converge_accurate_ratio}")
    nsys = len(cfg.systems)
    for where, obj in [("select", s)] + [(f"explore.jobs[{j}]", job)
                                         for j, job in enumerate(cfg.explore.jobs)]:
        for name in ("f_trust_lo", "f_trust_hi", "v_trust_lo", "v_trust_hi"):
            value = getattr(obj, name, None)
            if OmegaConf.is_list(value) and len(value) > nsys:
                add(f"{where}.{name}: {len(value)} per-system values for {nsys} systems")
    seen = set()
    for j, job in enumerate(cfg.explore.jobs or [None]):
        for sys_idx in (job.sys_idx if job is not None else range(len(cfg.systems))):
            if not 0 <= sys_idx < len(cfg.systems):
                continue
            try:
                lv = resolve_levels(s, job, sys_idx)
            except ValueError as err:
                add(str(err))
                continue
            where = f"(job {j}, system {sys_idx})"
            for kind, lo, hi in (("f", lv.f_lo, lv.f_hi), ("v", lv.v_lo, lv.v_hi)):
                if (kind, lo, hi) in seen:
                    continue
                seen.add((kind, lo, hi))
                if lo < 0:
                    add(f"select.{kind}_trust_lo: must be >= 0, got {lo} {where}")
                if lo >= hi and not (lo == hi == float("inf")):
                    add(f"select.{kind}_trust_lo: {lo} must be < {kind}_trust_hi {hi} {where}")


def _check_label(cfg, add) -> None:
    from raygen.labelers import make_labeler

    if cfg.label.timeout is not None and cfg.label.timeout <= 0:
        add(f"label.timeout: must be > 0 s or null, got {cfg.label.timeout}")
    if cfg.label.max_retries < 0:
        add(f"label.max_retries: must be >= 0, got {cfg.label.max_retries}")
    if not 0 <= cfg.label.max_failed_ratio <= 1:
        add(f"label.max_failed_ratio: must be in [0, 1], got {cfg.label.max_failed_ratio}")
    if not 0 < cfg.label.proceed_ratio <= 1:
        add(f"label.proceed_ratio: must be in (0, 1], got {cfg.label.proceed_ratio}")
    _check_external_labeler(cfg, add)
    labeler = make_labeler(cfg.label)
    problems = labeler.problems(list(cfg.type_map), local=cfg.cluster.address is None)
    for problem in problems:
        add(problem)
    if not problems and labeler.reference_calculator() is None:
        # the code runs as a program: no relaxation or MD with it inside raygen
        if not cfg.init.data and cfg.init.md_steps > 0:
            add(f"init.md_steps: labeler '{cfg.label.name}' runs as a program, so raygen "
                "cannot run MD with it; set init.md_steps=0 (the scaled and perturbed "
                "frames are labelled) or give init.data")
        for i, s in enumerate(cfg.systems):
            if s.relax:
                add(f"systems[{i}].relax: labeler '{cfg.label.name}' runs as a program, so "
                    "raygen cannot relax with it; set relax=false and give the lattice "
                    "constant of the level of theory")


def _check_external_labeler(cfg, add) -> None:
    """The code's command can start and its template exists (on a local run; on a
    cluster the program may live on the worker nodes only)."""
    import shlex
    import shutil

    command = getattr(cfg.label, "command", None)
    if command is None:
        return
    try:
        words = shlex.split(command.replace("{cpus}", "1"))
    except ValueError as err:
        add(f"label.command: {err}")
        return
    if not words:
        add("label.command: is empty; give the command that runs the code")
    elif cfg.cluster.address is None and shutil.which(words[0]) is None:
        add(f"label.command: {words[0]!r} is not an executable on this machine's PATH; "
            "install the code or point label.command at it")
    if "{" in command.replace("{cpus}", ""):
        add(f"label.command: unknown placeholder in {command!r}; only {{cpus}} is filled in")
    template = getattr(cfg.label, "template", None)
    if template and not Path(template).is_file():
        add(f"label.template: file {template} does not exist")


def _check_cluster(cfg, add) -> None:
    c = cfg.cluster
    if c.threads_per_worker < 1:
        add(f"cluster.threads_per_worker: must be >= 1, got {c.threads_per_worker}")
    if c.stall_warn_s is not None and c.stall_warn_s <= 0:
        add(f"cluster.stall_warn_s: must be > 0 s or null, got {c.stall_warn_s}")
    from raygen.actors.lane import lane_problems

    for problem in lane_problems(c):
        add(problem)
    total_cpus = c.num_cpus if c.num_cpus is not None else os.cpu_count()
    for kind in WORKER_KINDS:
        w = getattr(c, kind)
        if w.count < 1:
            add(f"cluster.{kind}.count: must be >= 1, got {w.count}")
        if w.num_cpus < 0 or w.num_gpus < 0:
            add(f"cluster.{kind}: num_cpus and num_gpus must be >= 0")
        if c.address is None:
            if w.num_cpus > total_cpus:
                add(f"cluster.{kind}.num_cpus: {w.num_cpus} > the {total_cpus} CPUs of "
                    "the local Ray instance; it would never start")
            if w.num_gpus > (c.num_gpus or 0):
                add(f"cluster.{kind}.num_gpus: {w.num_gpus} > the {c.num_gpus or 0} GPUs "
                    "of the local Ray instance (set cluster.num_gpus)")
