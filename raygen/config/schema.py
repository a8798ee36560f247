"""Structured configuration of a raygen run (Hydra / OmegaConf dataclasses).

One dataclass per config group; the YAML files in ``conf/`` start from them
(``defaults: [<name>_schema]``). OmegaConf rejects unknown keys, wrong types and
values outside the closed vocabularies (backend, structure, ensemble, engine,
labeler) when the config is composed; the checks that need more than a type
(trust lo < hi, counts > 0, files that exist, type maps that match the data) live
in :mod:`raygen.validate` and run before Ray starts.

Plug-ins (labelers, exploration engines) bring their own config dataclass,
subclassing :class:`LabelConfig` or :class:`ExploreConfig`; :func:`register_configs`
stores each under ``<group>/<name>_schema``.
"""

from __future__ import annotations

import copy
import glob
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import numpy as np
from ase.data import atomic_numbers
from hydra.core.config_store import ConfigStore
from omegaconf import OmegaConf

from raygen.config.backend import Backend
from raygen.config.merge import deep_merge, plain
from raygen.config.plugins import ENGINES, LABELERS, EngineName, LabelerName, load
from raygen.config.props import PropsConfig
from raygen.config.strenum import StrEnum, vocabulary

_SAFE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$")


def check_path_name(name: str) -> str | None:
    """Why ``name`` cannot be one folder name inside the run directory (None if it can):
    no separators, no ``..``, no leading dot or dash, letters/digits/``_.-`` only."""
    if not isinstance(name, str) or not name:
        return "must be a non-empty name"
    if not _SAFE_NAME.match(name) or ".." in name:
        return (f"{name!r} cannot be a name inside the run directory: use letters, "
                "digits and _ . - (no '/', no '..', not starting with '.' or '-')")
    return None


def plain_resources(res) -> bool:
    """``res`` asks for CPUs only (no GPUs, custom resources or node labels)."""
    return (float(res.num_gpus) == 0 and not dict(res.resources or {})
            and not dict(res.label_selector or {}))


# the kinds of worker that warm lanes host (cluster.lanes)
LANE_ROLES = ("trainer", "explorer", "evaluator")


def lane_problems(cluster) -> list[str]:
    """Why ``cluster.lanes=true`` cannot be: lanes hold no Ray resources, so they
    could not pin the GPUs (or take the custom resources, node labels) a kind asks
    for. Empty where lanes are not asked for, or can be."""
    if not cluster.lanes:
        return []
    return [f"cluster.lanes=true: lanes hold no GPUs, custom resources or node labels, "
            f"but cluster.{kind} asks for some; set cluster.lanes=null"
            for kind in LANE_ROLES if not plain_resources(getattr(cluster, kind))]


def _data_problems(key: str, path: Path, type_map: list[str]) -> list[str]:
    """A given deepmd/npy data directory: it exists, holds systems, and their atom
    types fit ``type_map``."""
    from raygen.science.dataset import deepmd_systems, system_type_map

    if not path.exists():
        return [f"{key}: {path} does not exist"]
    systems = deepmd_systems(path)
    out = [] if systems else [f"{key}: no deepmd/npy system (type.raw) under {path}"]
    for sysdir in systems:
        tm = system_type_map(sysdir)
        if tm and not set(tm) <= set(type_map):
            out.append(f"{key}: {sysdir}/type_map.raw {tm} does not match type_map {type_map}")
        elif not tm:
            types = np.loadtxt(sysdir / "type.raw", dtype=int, ndmin=1)
            if types.size and (types.max() >= len(type_map) or types.min() < 0):
                out.append(f"{key}: {sysdir}/type.raw has atom types up to {int(types.max())} "
                           f"but type_map {type_map} has {len(type_map)} (and the system "
                           "has no type_map.raw)")
    return out


# Bounds that protect the machine from a typo (1e9 starting configurations write a
# file each; 1e12 training or MD steps never end): above them a run is refused unless
# `no_limits=true`.
LIMITS = {"n_confs": 100_000, "numb_steps": 100_000_000, "nsteps": 100_000_000,
          "dt_ps": 0.02, "md_timestep_fs": 20.0}


def above_bound(key: str, value, bound: str, what: str, cfg) -> list[str]:
    """The problem of ``value`` above ``LIMITS[bound]`` (none under ``no_limits=true``)."""
    limit = LIMITS[bound]
    if value is None or value <= limit or cfg.no_limits:
        return []
    return [f"{key}: {value:,} {what} is above raygen's bound of {limit:,}; set "
            "no_limits=true if you mean it"]


def _structure_file_problems(key: str, path: Path, type_map: list[str]) -> list[str]:
    """A structure file raygen will read: it is a readable file ASE understands, with
    atoms, a cell, and only species in ``type_map`` (checked on its first frame)."""
    from ase.io import read

    if not path.exists():
        return [f"{key}: file {path} does not exist"]
    if not path.is_file():
        return [f"{key}: {path} is not a file (a directory?); give a structure file"]
    try:
        atoms = read(path, index=0)
    except Exception as err:  # noqa: BLE001 - ASE raises many types for a bad file
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        return [f"{key}: {path} is not a structure file ASE can read ({first[:160]})"]
    if len(atoms) == 0:
        return [f"{key}: {path} holds no atoms"]
    species = sorted(set(atoms.get_chemical_symbols()))
    missing = [el for el in species if el not in type_map]
    if missing:
        return [f"{key}: {path} has species {', '.join(missing)} not in type_map {type_map}"]
    if not atoms.cell.rank == 3 or abs(atoms.cell.volume) < 1e-6:
        return [f"{key}: {path} has no periodic cell (MD needs a 3D cell)"]
    return []


def _deepmd_input_problems(t, type_map: list[str], key: str) -> list[str]:
    """deepmd-kit's own schema check of the training template (strict keys)."""
    from deepmd.utils.argcheck import normalize

    inp = dict(plain(t.input))
    if not inp:
        return [f"{key}.input: is empty; give DeePMD-kit's model/learning_rate/loss/training"]
    inp.setdefault("model", {})["type_map"] = list(type_map)
    training = inp.setdefault("training", {})
    training["training_data"] = {**training.get("training_data", {}), "systems": ["."]}
    training.setdefault("numb_steps", t.numb_steps)
    try:
        normalize(copy.deepcopy(inp))
    except Exception as err:  # noqa: BLE001 - dargs raises several types
        return [f"{key}.input: rejected by deepmd-kit: {err}"]
    over = dict(plain(t.final.input))
    if over:
        try:
            normalize(deep_merge(inp, over))
        except Exception as err:  # noqa: BLE001
            return [f"{key}.final.input: merged over {key}.input, rejected by deepmd-kit: {err}"]
    return []


class NeighborStat(StrEnum):
    """Which members of an exploring iteration compute deepmd-kit's neighbour
    statistics (``train.neighbor_stat``)."""

    all = "all"
    first = "first"


class Structure(StrEnum):
    bulk = "bulk"
    surface = "surface"
    file = "file"


AdaptScope = vocabulary("AdaptScope", ("system", "iteration"), __name__)

PickRule = vocabulary("PickRule", ("uniform", "inv_pop_f", "fps"), __name__)
DescriptorLevel = vocabulary("DescriptorLevel", ("structure", "atom"), __name__)

Ensemble = vocabulary("Ensemble", ("nvt", "npt", "npt-iso", "npt-aniso", "npt-tri", "nve"),
                      __name__)


@dataclass
class SystemConfig:
    """One exploration system (DP-GEN's ``sys_configs`` entry).

    ``structure`` says where the atoms come from:

    - ``bulk``: an ideal ``crystal`` (fcc, hcp, bcc, ...) of ``element`` with
      lattice constant ``a`` (and ``c`` for hcp), repeated ``supercell`` times
      (conventional cells for fcc/bcc, the 2-atom cell for hcp);
    - ``surface``: the same crystal cut along ``miller`` (e.g. ``fcc111``) into a
      slab of ``layers`` layers with ``vacuum`` Å of gap, periodic in all three
      directions (DP-GEN paper: two crystal halves rigidly displaced);
    - ``file``: any structure file ASE can read (``path``).

    ``name`` names the system's folders in the run directory (letters, digits,
    ``_ . -``). ``vacancies`` atoms are removed (at random, seeded) to explore point
    defects. ``n_confs`` randomly perturbed copies (``atom_pert`` Å, ``cell_pert``
    fraction) are the starting configurations of the MD tasks of this system.
    """

    name: str = "???"
    """folder name of the system in the run directory (letters, digits, `_ . -`)"""
    structure: Structure = Structure.bulk
    """where the atoms come from: an ideal crystal, a slab cut from it, or a structure file"""
    element: str = "Cu"
    """element of the crystal (bulk, surface)"""
    crystal: str = "fcc"
    """ASE crystal structure name: fcc, hcp, bcc, sc, diamond, ... (bulk, surface)"""
    a: Optional[float] = None
    """lattice constant (Å); null: ASE's reference value for the element"""
    c: Optional[float] = None
    """second lattice constant for hcp (Å); null: ideal c/a"""
    supercell: Optional[list[int]] = None
    """repeats of the cell along a, b, c; null: 2 × 2 × 2 for bulk and surface (conventional
    cells), the file as given (1 × 1 × 1) for file"""
    miller: Optional[str] = None
    """surface orientation as ASE's builder names it, e.g. `fcc111` (surface)"""
    layers: int = 4
    """atomic layers of the slab (surface)"""
    vacuum: float = 4.0
    """vacuum gap between periodic slab images (Å) (surface)"""
    path: Optional[str] = None
    """structure file ASE can read (file)"""
    # ready starting configurations, used as given (DP-GEN's sys_configs): a glob of
    # structure files ASE reads (every frame of each, in name order); when set, the
    # structure is neither built, relaxed nor perturbed and n_confs is not used
    confs: Any = None
    """glob (or list of globs, DP-GEN's list per system) of ready starting configurations, every
    frame of every file (each glob's files in name order), used as given (DP-GEN's
    `sys_configs`); nothing is built, relaxed or perturbed"""
    n_confs: int = 4
    """randomly perturbed copies of the (relaxed) structure that start MD tasks"""
    atom_pert: float = 0.01
    """largest random displacement of each atom in a copy (Å)"""
    cell_pert: float = 0.03
    """largest random strain of the cell in a copy (fraction)"""
    relax: Optional[bool] = None
    """relax the structure with the labeler's reference calculator before perturbing it; null:
    yes for built and file structures (never for `confs`, which are used as given)"""
    vacancies: int = 0
    """atoms removed at random (seeded) to explore point defects"""

    @staticmethod
    def problems(s, cfg, key: str) -> list[str]:
        """What is wrong with one system (``key``: ``systems[i]``), files included."""
        from raygen.science.structures import SURFACES

        out, named = [], f"{key} ({s.name})"
        why = check_path_name(s.name)
        if why:
            out.append(f"{key}.name: {why}")
        type_map = list(cfg.type_map)
        if s.confs:
            files = conf_files(s.confs)
            for pattern in conf_patterns(s.confs):
                if not glob.glob(pattern):
                    out.append(f"{named}.confs: no file matches {pattern}")
            for f in files:
                out += _structure_file_problems(f"{named}.confs", Path(f), type_map)
            if s.relax:
                out.append(f"{named}.relax: configurations from `confs` are used as given, "
                           "never relaxed; remove relax (or relax them before)")
        elif s.structure == "file":
            if not s.path:
                out.append(f"{named}.path: structure=file needs a structure file")
            else:
                out += _structure_file_problems(f"{named}.path", Path(s.path), type_map)
        elif s.element not in cfg.type_map:
            out.append(f"{named}.element: {s.element!r} is not in type_map {list(cfg.type_map)}")
        for name in ("a", "c"):
            value = getattr(s, name)
            if value is not None and not value > 0:
                out.append(f"{named}.{name}: a lattice constant must be > 0 Å, got {value}")
        if s.structure == "surface" and s.miller not in SURFACES:
            out.append(f"{named}.miller: {s.miller!r} is not one of {', '.join(SURFACES)}")
        if s.supercell is not None and (len(s.supercell) != 3
                                        or any(int(n) < 1 for n in s.supercell)):
            out.append(f"{named}.supercell: needs three positive integers, "
                       f"got {list(s.supercell)}")
        if s.vacancies < 0:
            out.append(f"{named}.vacancies: must be >= 0, got {s.vacancies}")
        if s.n_confs < 1:
            out.append(f"{named}.n_confs: must be >= 1, got {s.n_confs}")
        else:
            out += above_bound(f"{named}.n_confs", s.n_confs, "n_confs",
                               "starting configurations (one file each)", cfg)
        if s.atom_pert < 0 or s.cell_pert < 0:
            out.append(f"{named}: atom_pert and cell_pert must be >= 0")
        return out

    @staticmethod
    def relaxes(s) -> bool:
        """Whether the structure is relaxed (``relax`` null: all but ``confs``)."""
        return bool(not s.confs if s.relax is None else s.relax and not s.confs)


@dataclass
class InitConfig:
    """Initial training data (DP-GEN's ``init_bulk``), made when ``data`` is empty.

    For every system named in ``systems``: relax, scale uniformly by each of
    ``scales``, make ``n_perturb`` random perturbations of each scaled cell, and
    run ``md_steps`` of MD at ``md_temperature`` K with the labeler's reference
    calculator, labelling every ``md_stride``-th frame. Relative ``data`` paths are
    taken from the directory raygen was started in.
    """

    data: list[str] = field(default_factory=list)
    """existing deepmd/npy data directories (types must fit `type_map`); when empty, initial data
    is made from `systems` below"""
    systems: list[str] = field(default_factory=list)
    """names of the systems the initial data is made from (DP-GEN's init_bulk)"""
    scales: list[float] = field(default_factory=lambda: [1.0])
    """uniform scalings of each relaxed cell (lattice-constant factors)"""
    strains: list[float] = field(default_factory=list)
    """strain sizes (fractions): each of the six Voigt strains at ± each size joins the scaled
    cells"""
    n_perturb: int = 2
    """random perturbations of each scaled or strained cell"""
    atom_pert: float = 0.01
    """largest random displacement of an atom in a perturbation (Å)"""
    cell_pert: float = 0.03
    """largest random strain of the cell in a perturbation (fraction)"""
    md_steps: int = 20
    """MD steps with the reference calculator from each perturbed cell (0: label the perturbed
    cells only)"""
    md_stride: int = 1
    """every this-many-th MD frame is labelled"""
    md_temperature: float = 50.0
    """temperature of that MD (K)"""
    md_timestep_fs: float = 2.0
    """time step of that MD (fs)"""

    @staticmethod
    def problems(init, cfg, key: str = "init") -> list[str]:
        """The recipe's numbers, and the given data's systems against ``type_map``."""
        out = []
        for i, d in enumerate(init.data):
            out += _data_problems(f"{key}.data[{i}]", Path(d), list(cfg.type_map))
        if not init.data:
            names = {s.name for s in cfg.systems}
            if not init.systems:
                out.append(f"{key}.systems: init.data is empty, so name the systems to make "
                           "initial data from (DP-GEN's init_bulk)")
            for n in init.systems:
                if n not in names:
                    out.append(f"{key}.systems: {n!r} is not a system name "
                               f"({', '.join(sorted(names))})")
        if not init.data and not init.scales:
            out.append(f"{key}.scales: is empty; give at least one scaling (e.g. [1.0])")
        if any(s <= 0 for s in init.scales):
            out.append(f"{key}.scales: must be > 0, got {list(init.scales)}")
        if any(not 0 < s < 0.2 for s in init.strains):
            out.append(f"{key}.strains: each must be in (0, 0.2) (a fraction, e.g. 0.02), "
                       f"got {list(init.strains)}")
        if init.n_perturb < 1:
            out.append(f"{key}.n_perturb: must be >= 1, got {init.n_perturb}")
        if init.md_steps < 0 or init.md_stride < 1:
            out.append(f"{key}.md_steps must be >= 0 and {key}.md_stride >= 1")
        if init.md_temperature < 0:
            out.append(f"{key}.md_temperature: must be >= 0 K, got {init.md_temperature}")
        if not init.md_timestep_fs > 0:
            out.append(f"{key}.md_timestep_fs: must be > 0, got {init.md_timestep_fs}")
        else:
            out += above_bound(f"{key}.md_timestep_fs", init.md_timestep_fs,
                               "md_timestep_fs", "fs", cfg)
        if init.atom_pert < 0 or init.cell_pert < 0:
            out.append(f"{key}: atom_pert and cell_pert must be >= 0")
        return out


@dataclass
class FinalTrainConfig:
    """Production training of the final ensemble (the paper's longer training of
    the models it publishes), a separate step after the last iteration; off while
    ``numb_steps`` is null. Every member trains ``numb_steps`` on all labels,
    from the last iteration's checkpoint (``from_scratch``: from new weights), the
    learning rate starting at ``start_lr`` (null: the template's); ``input`` is
    merged over ``train.input`` for this training only (e.g. loss prefactors).
    ``models/`` receives these models; a finished run started again with other
    settings here trains them again (and nothing else)."""

    numb_steps: Optional[int] = None
    """training steps of every member of the final ensemble on all labels; null: off (the last
    iteration's models are published)"""
    from_scratch: bool = False
    """start from new weights instead of the last iteration's checkpoint (when fine-tuning,
    `train.finetune`: from the pre-trained model)"""
    start_lr: Optional[float] = None
    """start learning rate; null: the template's"""
    input: dict[str, Any] = field(default_factory=dict)
    """DeePMD-kit input merged over `train.input` for this training only (e.g.
    `++train.final.input.loss.limit_pref_v=10`)"""


@dataclass
class FinetuneConfig:
    """Fine-tuning from a pre-trained model (dpgen2's ``do_finetune``), PyTorch backend.

    With ``model`` set, iteration 0's members are fine-tuned from it (``dp --pt train
    --finetune model --model-branch head --use-pretrain-script``): the model's
    architecture is the pre-trained one (``train.input``'s descriptor and fitting net
    are replaced by it), its type map is mapped onto the run's (types it never saw start
    at random). Later iterations follow ``train.init_model_policy``: from the previous
    iteration's member (``yes``), or fine-tuned from the pre-trained model again on all
    labels so far (``no``). ``numb_steps`` / ``start_lr``: the fine-tuning's steps and
    start learning rate (null: ``train.numb_steps`` / the template's).
    """

    model: Optional[str] = None
    """a deepmd-kit PyTorch checkpoint (`.pt`, as `dp --pt train` writes) to fine-tune from;
    relative paths from where raygen started; null: no fine-tuning"""
    head: Optional[str] = None
    """the branch of a multi-task checkpoint (`--model-branch`); `RANDOM`: the shared
    descriptor with a new fitting net; null for a single-task model"""
    numb_steps: Optional[int] = None
    """steps of each fine-tuning; null: `train.numb_steps`"""
    start_lr: Optional[float] = None
    """start learning rate of each fine-tuning; null: the template's"""


INIT_MODEL_POLICY = re.compile(r"^(no|yes|old_data_larger_than:\d+)$")


def init_model_policy(t) -> str:
    """``train.init_model_policy`` as written, YAML's unquoted ``no``/``yes`` (booleans to
    YAML) read back as the words; ``init_model_from_previous: true`` is ``yes``."""
    if t.init_model_from_previous:
        return "yes"
    value = str(t.init_model_policy)
    return {"false": "no", "true": "yes"}.get(value.lower(), value)


@dataclass
class TrainConfig:
    """Training of the model ensemble (DP-GEN's ``default_training_param``).

    ``input`` is a DeePMD-kit ``input.json`` (model, learning_rate, loss,
    training); raygen fills in the data systems, seeds and ``numb_steps``.
    ``neighbor_stat``: ``first`` — in an iteration that explores, only the first
    member (the one that drives MD and may be compressed) runs deepmd-kit's neighbour
    statistics (the ``sel`` check, ``min_nbor_dist`` for ``dp compress``); the others
    train with ``--skip-neighbor-stat`` (same data, same result; the same weights).
    ``all``: every member. The final ensemble always gets them.
    """

    backend: Backend = Backend.tf
    """deepmd-kit backend: tf (TensorFlow, the CPU default) or pt (PyTorch)"""
    numb_models: int = 4
    """ensemble size: models trained on the same data with different seeds"""
    numb_steps: int = 2000
    """training steps of each member in an iteration"""
    seed: int = 0
    """base of the members' seeds (member m of iteration i gets its own, derived from it)"""
    init_model_from_previous: bool = False
    """start each member from the previous iteration's (DP-GEN's `training_init_model`)"""
    init_model_policy: str = "no"
    """when a member starts from the previous iteration's (dpgen2's `init_model_policy`): `no`,
    `yes`, or `old_data_larger_than:N` (once the earlier iterations' data has more than N
    frames); `init_model_from_previous: true` is `yes`"""
    init_model_numb_steps: Optional[int] = None
    """steps when started from the previous model; null: `numb_steps`"""
    init_model_start_lr_scale: float = 1.0
    """factor on the start learning rate when started from the previous model"""
    disp_freq: int = 100
    """steps between lines of `lcurve.out` (`save_freq` is set to a multiple of it)"""
    neighbor_stat: NeighborStat = NeighborStat.first
    """which members compute deepmd-kit's neighbour statistics in an exploring iteration (`first`:
    the MD model only; the others train with `--skip-neighbor-stat`)"""
    input: dict[str, Any] = field(default_factory=dict)
    """DeePMD-kit input.json (model, learning_rate, loss, training), checked by deepmd-kit's own
    schema; raygen fills in the data systems, seeds and steps"""
    final: FinalTrainConfig = field(default_factory=FinalTrainConfig)
    finetune: FinetuneConfig = field(default_factory=FinetuneConfig)

    @staticmethod
    def problems(t, cfg, key: str = "train") -> list[str]:
        """Counts, the checkpoint cadence, the backend, and deepmd-kit's own schema
        check of ``input`` (and of ``final.input`` merged over it)."""
        out = []
        if t.numb_models < 2:
            out.append(f"{key}.numb_models: a deviation needs >= 2 models, got {t.numb_models}")
        if t.numb_steps < 1:
            out.append(f"{key}.numb_steps: must be >= 1, got {t.numb_steps}")
        for name, steps in (("numb_steps", t.numb_steps),
                            ("init_model_numb_steps", t.init_model_numb_steps),
                            ("final.numb_steps", t.final.numb_steps)):
            out += above_bound(f"{key}.{name}", steps, "numb_steps", "training steps", cfg)
        if t.init_model_numb_steps is not None and t.init_model_numb_steps < 1:
            out.append(f"{key}.init_model_numb_steps: must be >= 1, "
                       f"got {t.init_model_numb_steps}")
        if t.disp_freq < 1:
            out.append(f"{key}.disp_freq: must be >= 1, got {t.disp_freq}")
        f = t.final
        if f.numb_steps is not None and f.numb_steps < 1:
            out.append(f"{key}.final.numb_steps: must be >= 1 (or null: off), got {f.numb_steps}")
        if f.start_lr is not None and not f.start_lr > 0:
            out.append(f"{key}.final.start_lr: must be > 0, got {f.start_lr}")
        training = t.input.get("training", {}) if t.input else {}
        disp = training.get("disp_freq", t.disp_freq)
        save = training.get("save_freq")
        if save is not None and disp and save % disp:
            # deepmd-kit (TF) checks save_freq only at display steps: no checkpoint otherwise
            out.append(f"{key}.input.training.save_freq: {save} must be a multiple of "
                       f"disp_freq {disp}, or deepmd-kit writes no checkpoint to freeze")
        out += _backend_problems(t, key)
        if not INIT_MODEL_POLICY.match(init_model_policy(t)):
            out.append(f"{key}.init_model_policy: {t.init_model_policy!r} is not no, yes or "
                       "old_data_larger_than:<frames>")
        out += _finetune_problems(t, list(cfg.type_map), key)
        return out + _deepmd_input_problems(t, list(cfg.type_map), key)


def _finetune_problems(t, type_map: list[str], key: str) -> list[str]:
    """The checkpoint exists, is one, its branch is chosen and its type map can take the
    run's (read from the file, before Ray starts)."""
    f = t.finetune
    if not f.model:
        return [f"{key}.finetune.head: set without {key}.finetune.model"] if f.head else []
    out = []
    if t.backend != "pt":
        out.append(f"{key}.finetune.model: fine-tuning runs on deepmd-kit's PyTorch backend; "
                   f"set {key}.backend=pt")
    if f.numb_steps is not None and f.numb_steps < 1:
        out.append(f"{key}.finetune.numb_steps: must be >= 1, got {f.numb_steps}")
    if f.start_lr is not None and not f.start_lr > 0:
        out.append(f"{key}.finetune.start_lr: must be > 0, got {f.start_lr}")
    if out:
        return out
    from raygen.science.pretrained import finetune_problems

    return finetune_problems(str(f.model), f.head, type_map, f"{key}.finetune")


def _backend_problems(t, key: str) -> list[str]:
    """A PyTorch-only descriptor on TensorFlow; the PyTorch backend without what deepmd-kit's
    ``torch`` extra installs, or not loading (a torch other than the one its ops need)."""
    from raygen.config.backend import PT_ONLY, descriptor_types, missing_for_pt

    if t.backend != "pt":
        pt_only = [d for d in descriptor_types(t.input) if d in PT_ONLY]
        if pt_only:
            return [f"{key}.input.model.descriptor: {', '.join(pt_only)} exists only in "
                    f"deepmd-kit's PyTorch backend; set {key}.backend=pt"]
        return []
    missing = missing_for_pt()
    if missing:
        return [f"{key}.backend: 'pt' needs deepmd-kit's PyTorch backend, and these of its "
                f"requirements are missing: {', '.join(missing)}; install raygen's torch "
                "extra (pip install -e '.[torch]')"]
    try:
        import deepmd.pt  # noqa: F401
    except Exception as err:  # noqa: BLE001
        return [f"{key}.backend: 'pt' needs deepmd-kit's PyTorch backend, which does not load "
                f"here ({type(err).__name__}: {str(err)[:160]}); install raygen's torch extra "
                "(pip install -e '.[torch]') or use backend=tf"]
    return []


def conf_patterns(confs: Any) -> list[str]:
    """A system's ``confs``: one glob or a list of them."""
    if confs is None:
        return []
    return [str(confs)] if isinstance(confs, str) else [str(p) for p in confs]


def conf_files(confs: Any) -> list[str]:
    """The files of a system's ``confs``: each glob's matches in name order, globs in the
    order given (as DP-GEN reads a system's list of ``sys_configs`` globs)."""
    return [f for pattern in conf_patterns(confs) for f in sorted(glob.glob(pattern))]


@dataclass
class LammpsTemplate:
    """A job's own LAMMPS input (DP-GEN's template mode, `template: {lmp, plm}`): raygen
    writes `conf.lmp` and runs the template, revised by `rev_mat`/`sys_rev_mat`."""

    lmp: Optional[str] = None
    """the LAMMPS input template (DP-GEN's `template.lmp`); its DP-GEN reserved lines
    (`pair_style deepmd`, `dump dpgen_dump`, `fix dpgen_plm`) are rewritten, and where it has
    no pair_style or trajectory dump raygen puts them in; null: raygen writes the input"""
    plm: Optional[str] = None
    """the PLUMED input template (`template.plm`), revised with every key of the task and
    written as `input.plumed`"""
    plm_path: Optional[str] = None
    """a file copied into each task as `plmpath.pdb` (DP-GEN's `template.plm_path`)"""
    files: list[str] = field(default_factory=list)
    """more files each task needs (e.g. a COLVARS configuration), revised with every key and
    written into the task under their own names"""


@dataclass
class ModelDeviJob:
    """One exploration iteration (DP-GEN's ``model_devi_jobs`` entry).

    ``stage`` groups consecutive jobs (e.g. one temperature interval): when an
    iteration of a stage converges, the stage's remaining jobs are skipped.
    Trust levels and ``fp_task_max`` set here override ``select`` for this job only.
    """

    sys_idx: list[int] = field(default_factory=list)
    """indices into `systems` whose starting configurations this job explores"""
    temps: list[float] = field(default_factory=list)
    """temperatures (K); one MD task per configuration, temperature and pressure"""
    press: list[float] = field(default_factory=lambda: [1.0])
    """pressures (bar) for NPT ensembles"""
    ensemble: Ensemble = Ensemble["npt"]  # type: ignore[valid-type]
    """thermodynamic ensemble of the MD"""
    nsteps: int = 1000
    """MD steps of each task"""
    trj_freq: int = 10
    """steps between recorded frames (DP-GEN's `trj_freq`)"""
    confs_per_sys: Optional[int] = None
    """starting configurations taken per system; null: all of them"""
    stage: Optional[int] = None
    """exploration stage the job belongs to: when an iteration of a stage converges, the stage's
    remaining jobs are skipped; null: its own stage"""
    fp_task_max: Optional[int] = None
    """labels per system for this job; null: `select.fp_task_max`"""
    f_trust_lo: Any = None
    """lower force trust level for this job (eV/Å; number or per-system list); null:
    `select.f_trust_lo`"""
    f_trust_hi: Any = None
    """upper force trust level for this job (eV/Å); null: `select.f_trust_hi`"""
    v_trust_lo: Any = None
    """lower virial trust level for this job (eV/atom); null: `select.v_trust_lo`"""
    v_trust_hi: Any = None
    """upper virial trust level for this job (eV/atom); null: `select.v_trust_hi`"""
    nbeads: Optional[int] = None
    """path-integral MD with this many beads (DP-GEN's `nbeads`): LAMMPS's `fix pimd/langevin`
    on `-p Nx1` partitions, one MPI rank per bead; the beads' frames are merged into one
    trajectory and one `model_devi.out`, bead k's steps offset by k * (nsteps + 1) as DP-GEN
    merges them; null: classical MD"""
    template: LammpsTemplate = field(default_factory=LammpsTemplate)
    """the job's own LAMMPS (and PLUMED) input; `template.lmp` null: raygen's own input from
    temps, press, ensemble and nsteps"""
    rev_mat: Any = None
    """template keys and their values, `{lmp: {KEY: [values]}, plm: {KEY: [values]}}`: one task
    per configuration and combination of values, each key replaced by its value (LAMMPS keys in
    the LAMMPS template, all keys in the PLUMED one and in `template.files`), DP-GEN's
    `rev_mat`"""
    sys_rev_mat: Any = None
    """per-system template keys, `{"<sys_idx>": {lmp: {...}, plm: {...}}}`, combined with every
    `rev_mat` combination (DP-GEN's `sys_rev_mat`)"""

    @staticmethod
    def problems(job, cfg, key: str) -> list[str]:
        out, nsys = [], len(cfg.systems)
        if not job.sys_idx:
            out.append(f"{key}.sys_idx: is empty")
        bad = [s for s in job.sys_idx if not 0 <= s < nsys]
        if bad:
            out.append(f"{key}.sys_idx: {bad} out of range; there are {nsys} systems")
        templated = bool(job.template.lmp)
        if templated:  # temperatures and pressures are optional (RAYGEN_TEMP, RAYGEN_PRESS)
            if any(t <= 0 for t in job.temps):
                out.append(f"{key}.temps: needs temperatures > 0 K, got {list(job.temps)}")
        elif not job.temps or any(t <= 0 for t in job.temps):
            out.append(f"{key}.temps: needs temperatures > 0 K, got {list(job.temps)}")
        if not templated and str(job.ensemble).startswith("npt") and not job.press:
            out.append(f"{key}.press: {job.ensemble} needs pressures (bar)")
        if not templated:
            for name in ("rev_mat", "sys_rev_mat"):
                if getattr(job, name):
                    out.append(f"{key}.{name}: revises a LAMMPS template, and the job has "
                               "none (set template.lmp)")
            if job.template.plm or job.template.files or job.template.plm_path:
                out.append(f"{key}.template: plm, plm_path and files go with a LAMMPS "
                           "template; set template.lmp")
        if job.nbeads is not None:
            out += pimd_problems(job, key, templated)
        if job.nsteps < 1 or job.trj_freq < 1:
            out.append(f"{key}: nsteps and trj_freq must be >= 1")
        elif job.trj_freq > job.nsteps and not templated:
            out.append(f"{key}.trj_freq: {job.trj_freq} > nsteps {job.nsteps} records only "
                       "step 0")
        if job.confs_per_sys is not None and job.confs_per_sys < 1:
            out.append(f"{key}.confs_per_sys: must be >= 1 or null")
        out += above_bound(f"{key}.nsteps", job.nsteps, "nsteps", "MD steps per task", cfg)
        return out


PIMD_ENSEMBLES = ("nvt", "npt", "npt-iso", "npt-aniso")


def pimd_problems(job, key: str, templated: bool) -> list[str]:
    """What DP-GEN and LAMMPS's fix pimd/langevin refuse, before any run."""
    out = []
    if job.nbeads < 1:
        out.append(f"{key}.nbeads: must be >= 1 (or null: classical MD), got {job.nbeads}")
    if templated:
        out.append(f"{key}.nbeads: not with a LAMMPS template (write the fix pimd/langevin "
                   "in it, or drop template.lmp)")
    if str(job.ensemble) not in PIMD_ENSEMBLES:
        out.append(f"{key}.ensemble: {job.ensemble} with nbeads; PIMD (fix pimd/langevin) "
                   f"takes {', '.join(PIMD_ENSEMBLES)}")
    if job.trj_freq >= 1 and job.nsteps % job.trj_freq:
        out.append(f"{key}.trj_freq: {job.trj_freq} must divide nsteps {job.nsteps} with "
                   "nbeads (DP-GEN's rule: each bead's frames end at the last step)")
    return out


@dataclass
class EarlyStopConfig:
    """MD that stops when the ensemble gives up (off unless `failed_frames` or `failed_ratio`
    is set): frames at or above the task's upper force trust level are failed, never
    labelled, and the MD after a long run of them makes only more. Raygen's own LAMMPS
    input only (not templates, not PIMD); LAMMPS then computes the deviation as it runs
    (DP-GEN's way), and the deviation reducer still scores every frame that ran."""

    failed_frames: Optional[int] = None
    """an MD task ends after this many consecutive recorded frames at or above its
    `f_trust_hi` (or not a number); null: no such rule"""
    failed_ratio: Optional[float] = None
    """an MD task ends once its failed frames reach this fraction of the frames it was to
    record; null: no such rule"""
    check_every: int = 10
    """recorded frames between two checks of the rules (LAMMPS runs the MD in pieces of
    `check_every` x `trj_freq` steps)"""
    restarts: int = 0
    """times a stopped task goes on from its last trusted frame with new velocities (its
    steps counted on, up to its `nsteps`), so it still delivers candidates; 0: it ends"""

    @staticmethod
    def is_on(es) -> bool:
        """Whether a rule stops tasks (``es``: this config or its OmegaConf node)."""
        return es.failed_frames is not None or es.failed_ratio is not None

    @staticmethod
    def problems(es, jobs, key: str) -> list[str]:
        out = []
        if es.failed_frames is not None and int(es.failed_frames) < 1:
            out.append(f"{key}.failed_frames: must be >= 1 (or null), got {es.failed_frames}")
        if es.failed_ratio is not None and not 0 < float(es.failed_ratio) <= 1:
            out.append(f"{key}.failed_ratio: must be in (0, 1] (or null), got "
                       f"{es.failed_ratio}")
        if es.check_every < 1:
            out.append(f"{key}.check_every: must be >= 1, got {es.check_every}")
        if es.restarts < 0:
            out.append(f"{key}.restarts: must be >= 0, got {es.restarts}")
        if es.restarts and not EarlyStopConfig.is_on(es):
            out.append(f"{key}.restarts: {es.restarts} restarts, but no rule stops a task; "
                       "set failed_frames or failed_ratio")
        if EarlyStopConfig.is_on(es):
            for j, job in enumerate(jobs):
                if job.template.lmp:
                    out.append(f"{key}: job {j} runs the LAMMPS template {job.template.lmp}, "
                               "which raygen does not run in pieces; early stop is for "
                               "raygen's own input (leave explore.early_stop off)")
                if job.nbeads:
                    out.append(f"{key}: job {j} is PIMD (nbeads {job.nbeads}); early stop "
                               "is for classical MD")
        return out


@dataclass
class GrowConfig:
    """An exploration schedule that lengthens itself per system (ArcaNN's rule): after an
    iteration in which few of a system's frames were ill described (candidates and failed
    over all its frames), its MD in the next iteration is 4x (below `x4_below`) or 2x (below
    `x2_below`) as long as before, never shorter, never past `max_nsteps`; the factor
    multiplies each job's own `nsteps`. Jobs with a template keep their own length."""

    enabled: bool = False
    """lengthen each system's MD as its ensemble gets better"""
    x4_below: float = 0.10
    """ill-described ratio below which the next iteration's MD is 4x as long"""
    x2_below: float = 0.20
    """ill-described ratio below which the next iteration's MD is 2x as long"""
    max_nsteps: int = 1_000_000
    """the longest an MD task grows to (steps)"""

    @staticmethod
    def problems(g, jobs, key: str) -> list[str]:
        if not g.enabled:
            return []
        out = []
        if not 0 <= g.x4_below <= g.x2_below:
            out.append(f"{key}: x4_below ({g.x4_below}) and x2_below ({g.x2_below}) must "
                       "satisfy 0 <= x4_below <= x2_below (above 1: always)")
        if g.max_nsteps < 1:
            out.append(f"{key}.max_nsteps: must be >= 1, got {g.max_nsteps}")
        for j, job in enumerate(jobs):
            if job.template.lmp:
                out.append(f"{key}: job {j} runs the LAMMPS template {job.template.lmp}, "
                           "whose length is the template's; leave explore.grow off or "
                           "give the job raygen's own input")
        return out


@dataclass
class ExploreConfig:
    """Molecular dynamics with the current ensemble, by an exploration ``engine``
    (a plug-in: its own keys live in its subclass, e.g. ``LammpsExploreConfig``)."""

    engine: EngineName = EngineName["lammps"]  # type: ignore[valid-type]
    """exploration engine (a plug-in; `explore=<name>` picks its config group)"""
    dt: float = 0.002
    """MD time step (ps)"""
    tau_t: float = 0.1
    """thermostat damping time (ps)"""
    tau_p: float = 0.5
    """barostat damping time (ps)"""
    model_devi_skip: int = 0
    """frames before this MD step are not candidates (DP-GEN's `model_devi_skip`)"""
    deviation_batch: int = 200
    """frames per ensemble-evaluation batch in the deviation reducer"""
    # the model that drives MD is compressed with `dp compress` (DP-GEN's dp_compress)
    compress: bool = True
    """the model that drives MD is compressed with `dp compress` once per iteration (DP-GEN's
    `dp_compress`); deviations still use the models as trained"""
    jobs: list[ModelDeviJob] = field(default_factory=list)
    """the exploration schedule: one entry per iteration (DP-GEN's `model_devi_jobs`)"""
    early_stop: EarlyStopConfig = field(default_factory=EarlyStopConfig)
    """MD tasks that end when the ensemble gives up (off by default)"""
    grow: GrowConfig = field(default_factory=GrowConfig)
    """MD that grows longer per system as the ensemble improves (ArcaNN's rule; off by
    default)"""

    @staticmethod
    def problems(e, cfg, key: str = "explore") -> list[str]:
        """MD settings and every job of the schedule (an engine's own config class
        adds its keys' checks by overriding this)."""
        out = []
        if not e.jobs:
            out.append(f"{key}.jobs: is empty; give at least one exploration job")
        for name in ("dt", "tau_t", "tau_p"):
            if getattr(e, name) <= 0:
                out.append(f"{key}.{name}: must be > 0, got {getattr(e, name)}")
        out += above_bound(f"{key}.dt", e.dt, "dt_ps",
                           "ps (explore.dt is in ps: 0.002 is 2 fs)", cfg)
        if e.model_devi_skip < 0:
            out.append(f"{key}.model_devi_skip: must be >= 0, got {e.model_devi_skip}")
        if e.deviation_batch < 1:
            out.append(f"{key}.deviation_batch: must be >= 1, got {e.deviation_batch}")
        for j, job in enumerate(e.jobs):
            out += ModelDeviJob.problems(job, cfg, f"{key}.jobs[{j}]")
        if getattr(e, "early_stop", None) is not None:
            out += EarlyStopConfig.problems(e.early_stop, e.jobs, f"{key}.early_stop")
        if getattr(e, "grow", None) is not None:
            out += GrowConfig.problems(e.grow, e.jobs, f"{key}.grow")
        return out


@dataclass
class SanityConfig:
    """Checks on the frames about to be labelled (dpgen2's configuration filters; each off
    when null): a frame that fails one is not labelled but counted as failed, and the next
    candidate is taken in its place."""

    min_distance_ratio: Optional[float] = None
    """two atoms nearer than this times the sum of their covalent radii (ASE's): e.g. 0.5"""
    volume_ratio: Optional[float] = None
    """volume per atom more than this factor above or below its MD's start: e.g. 3"""
    max_tilt_deg: Optional[float] = None
    """a cell tilted beyond this angle (dpgen2's box skewness, `theta` 60)"""
    max_edge_ratio: Optional[float] = None
    """one cell edge more than this times another (dpgen2's box length, 5)"""

    @staticmethod
    def problems(sc, key: str) -> list[str]:
        out = []
        for name, low in (("min_distance_ratio", 0.0), ("volume_ratio", 1.0),
                          ("max_tilt_deg", 0.0), ("max_edge_ratio", 1.0)):
            v = getattr(sc, name)
            if v is not None and not float(v) > low:
                out.append(f"{key}.{name}: must be > {low:g} (or null), got {v}")
        if sc.max_tilt_deg is not None and float(sc.max_tilt_deg) >= 90:
            out.append(f"{key}.max_tilt_deg: must be < 90, got {sc.max_tilt_deg}")
        return out


@dataclass
class SelectConfig:
    """DP-GEN's selection rules and the convergence stop rule.

    Trust levels are scalars or one value per system (list indexed by sys_idx).
    ``v_trust_lo``/``v_trust_hi`` (virial, eV/atom) are off when null.
    """

    f_trust_lo: Any = 0.05
    """lower force trust level (eV/Å; number or per-system list): frames below it are accurate"""
    f_trust_hi: Any = 0.20
    """upper force trust level (eV/Å; number or per-system list): frames at or above it are failed
"""
    v_trust_lo: Any = None
    """lower virial trust level (eV/atom); null: virial not used"""
    v_trust_hi: Any = None
    """upper virial trust level (eV/atom); null: virial not used"""
    fp_task_max: int = 20
    """most candidates labelled per system per iteration"""
    fp_task_min: int = 1
    """fewer candidates than this in a system: none of them is labelled"""
    fp_accurate_threshold: float = 1.0
    """accurate ratio at and above which nothing is labelled"""
    fp_accurate_soft_threshold: Optional[float] = None
    """accurate ratio from which `fp_task_max` decays linearly to 0 at `fp_accurate_threshold`;
    null: no decay"""
    seed: int = 0
    """seeds the candidate picking and the MD velocities"""
    converge_accurate_ratio: Optional[float] = 0.99
    """an exploration stage ends when an iteration's accurate ratio reaches this; null: never early
"""
    pick: PickRule = PickRule["uniform"]  # type: ignore[valid-type]
    """how the candidates to label are drawn: `uniform` (DP-GEN: at random), `inv_pop_f`
    (dpgen2: weighted by 1 / the population of their force-deviation bin over [lo, hi), so
    rare deviations are picked as often as common ones; no repeats) or `fps` (farthest-point
    sampling in the ensemble's descriptor space, per system, from the candidate of largest
    deviation: labels spread over configurations instead of repeating one)"""
    pick_nhist: int = 10
    """inv_pop_f: bins of the force-deviation histogram (dpgen2's `inv_pop_f:nhist`)"""
    sanity: SanityConfig = field(default_factory=SanityConfig)
    """checks on the frames about to be labelled (off by default)"""
    pick_descriptor: DescriptorLevel = DescriptorLevel["structure"]  # type: ignore[valid-type]
    """fps: what a frame is in descriptor space — `structure` (the mean of its atoms'
    descriptors) or `atom` (the descriptor of its atom of largest force deviation); the
    deviation reducer computes it with the first model, next to the deviation"""
    adapt_trust_lo: bool = False
    """DP-GEN's `model_devi_adapt_trust_lo`: the lower levels are found per system and iteration
    (the `numb_candi`/`perc_candi` frames of largest deviation below the upper levels are the
    candidates; a frame above an upper level, strictly, is failed); `f_trust_lo`/`v_trust_lo`
    are then not used"""
    adapt_scope: AdaptScope = AdaptScope["system"]  # type: ignore[valid-type]
    """adapt_trust_lo over each system (`system`, DP-GEN) or over all frames of the iteration
    (`iteration`, dpgen2's `adaptive-lower`, whose `rate_candi` is `perc_candi` / 100; the upper
    levels must then be one for all systems)"""
    numb_candi_f: int = 10
    """adapt_trust_lo: at least this many candidates by force deviation per system (or per
    iteration) (`model_devi_numb_candi_f`)"""
    perc_candi_f: float = 0.0
    """adapt_trust_lo: at least this percentage (0-100) of the not-failed frames as candidates by
    force deviation (`model_devi_perc_candi_f`)"""
    numb_candi_v: int = 0
    """adapt_trust_lo: at least this many candidates by virial deviation
    (`model_devi_numb_candi_v`)"""
    perc_candi_v: float = 0.0
    """adapt_trust_lo: at least this percentage (0-100) by virial deviation
    (`model_devi_perc_candi_v`)"""
    converge_level_steps: Optional[int] = None
    """adapt_trust_lo: an exploration stage ends when the adapted lower force level of every
    system has moved less than `converge_level_tolerance` between neighbouring iterations over
    this many iterations of the stage (dpgen2's `n_checked_steps`); null: not used"""
    converge_level_tolerance: float = 0.05
    """the tolerance of that rule (eV/Å; dpgen2's `conv_tolerance`)"""

    @staticmethod
    def problems(s, cfg, key: str = "select") -> list[str]:
        """The throttle and stop rule, and the trust levels every (job, system) of the
        schedule resolves to (``lo < hi``, per-system lists long enough)."""
        from raygen.selection.trust import resolve_levels

        out = []
        if s.fp_task_max < 0 or s.fp_task_min < 0:
            out.append(f"{key}.fp_task_max and {key}.fp_task_min must be >= 0")
        if s.seed < 0:
            out.append(f"{key}.seed: must be >= 0, got {s.seed}")
        if s.pick_nhist < 1:
            out.append(f"{key}.pick_nhist: must be >= 1, got {s.pick_nhist}")
        if getattr(s, "sanity", None) is not None:
            out += SanityConfig.problems(s.sanity, f"{key}.sanity")
        if s.numb_candi_f < 0 or s.numb_candi_v < 0:
            out.append(f"{key}.numb_candi_f and {key}.numb_candi_v must be >= 0")
        for name in ("perc_candi_f", "perc_candi_v"):
            if not 0 <= getattr(s, name) <= 100:
                out.append(f"{key}.{name}: a percentage in [0, 100], got {getattr(s, name)}")
        if s.converge_level_steps is not None:
            if not s.adapt_trust_lo:
                out.append(f"{key}.converge_level_steps: needs {key}.adapt_trust_lo=true (it "
                           "watches the adapted lower level)")
            if s.converge_level_steps < 2:
                out.append(f"{key}.converge_level_steps: must be >= 2, got "
                           f"{s.converge_level_steps}")
            if not s.converge_level_tolerance > 0:
                out.append(f"{key}.converge_level_tolerance: must be > 0, got "
                           f"{s.converge_level_tolerance}")
        if s.adapt_trust_lo and s.adapt_scope == "iteration":
            for where, obj in [(key, s)] + [(f"explore.jobs[{j}]", job)
                                            for j, job in enumerate(cfg.explore.jobs)]:
                for name in ("f_trust_hi", "v_trust_hi"):
                    if OmegaConf.is_list(getattr(obj, name, None)):
                        out.append(f"{where}.{name}: adapt_scope=iteration finds one lower "
                                   "level for all systems; give one upper level, not a list")
        if s.adapt_trust_lo and s.numb_candi_f == 0 and s.perc_candi_f == 0 and \
                s.numb_candi_v == 0 and s.perc_candi_v == 0:
            out.append(f"{key}.adapt_trust_lo: with numb_candi_f/v and perc_candi_f/v all 0 "
                       "no frame can be a candidate")
        if not 0 <= s.fp_accurate_threshold <= 1:
            out.append(f"{key}.fp_accurate_threshold: must be in [0, 1], "
                       f"got {s.fp_accurate_threshold}")
        soft = s.fp_accurate_soft_threshold
        if soft is not None and not 0 <= soft <= s.fp_accurate_threshold:
            out.append(f"{key}.fp_accurate_soft_threshold: must be in "
                       f"[0, fp_accurate_threshold], got {soft}")
        if s.converge_accurate_ratio is not None and not 0 < s.converge_accurate_ratio <= 1:
            out.append(f"{key}.converge_accurate_ratio: must be in (0, 1] or null, "
                       f"got {s.converge_accurate_ratio}")
        nsys = len(cfg.systems)
        for where, obj in [(key, s)] + [(f"explore.jobs[{j}]", job)
                                        for j, job in enumerate(cfg.explore.jobs)]:
            for name in ("f_trust_lo", "f_trust_hi", "v_trust_lo", "v_trust_hi"):
                value = getattr(obj, name, None)
                if OmegaConf.is_list(value) and len(value) > nsys:
                    out.append(f"{where}.{name}: {len(value)} per-system values for "
                               f"{nsys} systems")
        seen = set()
        for j, job in enumerate(cfg.explore.jobs or [None]):
            for sys_idx in (job.sys_idx if job is not None else range(nsys)):
                if not 0 <= sys_idx < nsys:
                    continue
                try:
                    lv = resolve_levels(s, job, sys_idx)
                except ValueError as err:
                    out.append(str(err))
                    continue
                where = f"(job {j}, system {sys_idx})"
                for kind, lo, hi in (("f", lv.f_lo, lv.f_hi), ("v", lv.v_lo, lv.v_hi)):
                    if (kind, lo, hi) in seen:
                        continue
                    seen.add((kind, lo, hi))
                    if s.adapt_trust_lo:  # the lower levels are found, not given
                        continue
                    if lo < 0:
                        out.append(f"{key}.{kind}_trust_lo: must be >= 0, got {lo} {where}")
                    if lo >= hi and not (lo == hi == float("inf")):
                        out.append(f"{key}.{kind}_trust_lo: {lo} must be < {kind}_trust_hi "
                                   f"{hi} {where}")
        return out


@dataclass
class LabelConfig:
    """First-principles (or reference) labeler; ``name`` picks the plug-in, whose
    own keys live in its subclass (e.g. ``EmtLabelConfig``).

    ``timeout`` (s) kills a calculation with its process tree; a crashed or timed-out
    calculation is tried again up to ``max_retries`` times; when more than
    ``max_failed_ratio`` of an iteration's frames end without a label, the run stops
    (after keeping every label that converged) and lists them. When
    ``proceed_ratio`` of an iteration's frames are labelled, the next iteration's
    training starts; the rest keep running and their labels join the following
    iteration's training data."""

    name: LabelerName = LabelerName["emt"]  # type: ignore[valid-type]
    """labeler plug-in (`label=<name>` picks its config group)"""
    timeout: Optional[float] = None
    """a calculation is killed with its process tree after this long (s); null: no limit"""
    max_retries: int = 2
    """times a crashed or timed-out calculation is tried again"""
    max_failed_ratio: float = 0.5
    """more than this fraction of an iteration's frames without a label stops the run (after
    keeping every converged label)"""
    proceed_ratio: float = 1.0
    """fraction of an iteration's labels after which the next iteration starts training; the rest
    join the following one"""
    check_ensemble: bool = True
    """after each iteration's labels, test that iteration's ensemble on them: per labelled frame
    the max force deviation beside the true force error (`02.fp/trust_check.json`, the run
    report); one model load per iteration"""

    @staticmethod
    def problems(lab, cfg, key: str = "label") -> list[str]:
        """The keys every labeler shares; a labeler's config class adds its own (and
        the labeler's ``problems()`` checks its files against ``type_map``)."""
        out = []
        if lab.timeout is not None and lab.timeout <= 0:
            out.append(f"{key}.timeout: must be > 0 s or null, got {lab.timeout}")
        if lab.max_retries < 0:
            out.append(f"{key}.max_retries: must be >= 0, got {lab.max_retries}")
        if not 0 <= lab.max_failed_ratio <= 1:
            out.append(f"{key}.max_failed_ratio: must be in [0, 1], got {lab.max_failed_ratio}")
        if not 0 < lab.proceed_ratio <= 1:
            out.append(f"{key}.proceed_ratio: must be in (0, 1], got {lab.proceed_ratio}")
        return out


@dataclass
class WorkerResources:
    """Ray resources of one kind of worker and how many run at once. Where it may
    run: ``label_selector`` (node labels it needs, e.g. ``{raygen.io/pool: cpu}``;
    ``ray start --labels``, KubeRay's ``rayStartParams.labels``) and ``resources``
    (custom Ray resources it takes, e.g. ``{dft: 1}``)."""

    count: int = 1
    """workers of this kind at once"""
    num_cpus: float = 1.0
    """CPUs each worker asks Ray for"""
    num_gpus: float = 0.0
    """GPUs each worker asks Ray for (fractions share a GPU)"""
    resources: dict[str, float] = field(default_factory=dict)
    """custom Ray resources each worker takes, e.g. `{dft: 1}`"""
    label_selector: dict[str, str] = field(default_factory=dict)
    """node labels the worker needs, e.g. `{raygen.io/pool: cpu}`"""


WORKER_KINDS = ("trainer", "explorer", "evaluator", "labeler")


@dataclass
class ClusterConfig:
    """Where the run executes: ``address`` null starts a local Ray instance.
    ``stall_warn_s``: a wait in which nothing finishes for this long is reported
    in the log with what it waits for and the free resources (null: never).
    ``autoscaling``: nodes join on demand (KubeRay, the Ray autoscaler), so a worker
    that no node can host yet is not an error at start. ``lanes``: train, MD and
    deviations on warm workers kept for the whole run (:mod:`raygen.actors.lane`);
    null: where it is safe (a local Ray, the three kinds alike, CPUs only)."""

    address: Optional[str] = None
    """null: start a local Ray here; `auto` or `host:port`: join a running cluster"""
    autoscaling: bool = False
    """nodes join on demand (KubeRay, the Ray autoscaler): a worker no node can host yet is not an
    error at start"""
    num_cpus: Optional[int] = None
    """CPUs of the local Ray (null: all cores)"""
    num_gpus: Optional[int] = None
    """GPUs of the local Ray (null: detected)"""
    threads_per_worker: int = 1
    """OpenMP / TensorFlow threads in each worker process"""
    stall_warn_s: Optional[float] = 300.0
    """a wait in which nothing finishes for this long is reported with what it waits for (s); null:
    never"""
    lanes: Optional[bool] = None
    """warm workers that train, run MD and evaluate for the whole run; null: where safe (local CPU-
    only Ray, the three kinds alike)"""
    trainer: WorkerResources = field(default_factory=lambda: WorkerResources(count=2))
    """trainers (one ensemble member at a time each)"""
    explorer: WorkerResources = field(default_factory=lambda: WorkerResources(count=2))
    """explorers (MD tasks)"""
    evaluator: WorkerResources = field(default_factory=lambda: WorkerResources(count=2))
    """evaluators (the deviation reducer)"""
    labeler: WorkerResources = field(default_factory=lambda: WorkerResources(count=2))
    """labelling tasks (one frame each)"""
    check_gpu_backend: bool = True
    """refuse a layout whose trainers, explorers or evaluators ask for GPUs when the installed
    deepmd-kit backend cannot use them (tensorflow-cpu, a CPU build of torch); false: where the
    workers' environment is not the driver's"""

    @staticmethod
    def problems(c, cfg, key: str = "cluster") -> list[str]:
        """Threads, the lanes rule, and each kind of worker against the local Ray
        instance raygen would start (on a joined cluster the start-up check does it)."""
        out = []
        if c.threads_per_worker < 1:
            out.append(f"{key}.threads_per_worker: must be >= 1, got {c.threads_per_worker}")
        if c.stall_warn_s is not None and c.stall_warn_s <= 0:
            out.append(f"{key}.stall_warn_s: must be > 0 s or null, got {c.stall_warn_s}")
        out += lane_problems(c)
        total_cpus = c.num_cpus if c.num_cpus is not None else os.cpu_count()
        for kind in WORKER_KINDS:
            w = getattr(c, kind)
            if w.count < 1:
                out.append(f"{key}.{kind}.count: must be >= 1, got {w.count}")
            if w.num_cpus < 0 or w.num_gpus < 0:
                out.append(f"{key}.{kind}: num_cpus and num_gpus must be >= 0")
            if c.address is None:
                if w.num_cpus > total_cpus:
                    out.append(f"{key}.{kind}.num_cpus: {w.num_cpus} > the {total_cpus} CPUs "
                               "of the local Ray instance; it would never start")
                if w.num_gpus > (c.num_gpus or 0):
                    out.append(f"{key}.{kind}.num_gpus: {w.num_gpus} > the {c.num_gpus or 0} "
                               "GPUs of the local Ray instance (set cluster.num_gpus)")
        return out


@dataclass
class SimplifyConfig:
    """``python -m raygen.simplify``: DP-GEN's ``dpgen simplify`` — a smaller data set
    with the accuracy of the whole, picked by the ensemble's deviation. Iteration 0 picks
    ``init_pick_number`` frames at random; each later iteration trains the ensemble on
    the picked frames (and ``init.data``), evaluates it on the rest, and picks
    ``iter_pick_number`` of the candidates at random; it stops when the rest is empty,
    no candidate is left, or at ``stop_iter``. Trust levels are DP-GEN's (a level of
    1e10 is off); ``labeled``: the data carry labels (no labeller runs), otherwise the
    picked frames are labelled with ``label``."""

    pick_data: list[str] = field(default_factory=list)
    """the data set to simplify: deepmd/npy system folders, folders of them, globs, or
    `file.h5#/path` (DP-GEN's `pick_data`)"""
    labeled: bool = False
    """the data set carries energies and forces (DP-GEN's `labeled`): picked frames are used as
    they are; false: they are labelled with `label`"""
    init_pick_number: int = 0
    """frames picked at random in iteration 0"""
    iter_pick_number: int = 0
    """candidates picked at random in each later iteration"""
    f_trust_lo: float = 0.05
    """lower force-deviation level (eV/Å; `model_devi_f_trust_lo`)"""
    f_trust_hi: float = 0.15
    """upper force-deviation level (eV/Å; `model_devi_f_trust_hi`): at or above it, failed"""
    e_trust_lo: float = 1e10
    """lower energy-deviation level (eV/atom; `model_devi_e_trust_lo`; 1e10: off)"""
    e_trust_hi: float = 1e10
    """upper energy-deviation level (eV/atom; `model_devi_e_trust_hi`; 1e10: off)"""
    true_error_f_trust_lo: float = 1e10
    """lower level of the ensemble's force error against the labels (eV/Å;
    `true_error_f_trust_lo`; needs `labeled`; 1e10: off)"""
    true_error_f_trust_hi: float = 1e10
    """upper level of the force error against the labels (eV/Å; 1e10: off)"""
    true_error_e_trust_lo: float = 1e10
    """lower level of the energy error against the labels (eV/atom; 1e10: off)"""
    true_error_e_trust_hi: float = 1e10
    """upper level of the energy error against the labels (eV/atom; 1e10: off)"""
    stop_iter: Optional[int] = None
    """the iteration that trains the last ensemble and stops (DP-GEN's `stop_iter`); null: when
    the rest is exhausted"""
    seed: int = 0
    """seeds the random picks"""

    @staticmethod
    def levels(sc) -> dict[str, tuple[float, float]]:
        """(lo, hi) of each quantity frames are classified by (:mod:`raygen.simplify.pick`)."""
        out = {"f": (sc.f_trust_lo, sc.f_trust_hi), "e": (sc.e_trust_lo, sc.e_trust_hi)}
        if SimplifyConfig.uses_true_error(sc):
            out["f_err"] = (sc.true_error_f_trust_lo, sc.true_error_f_trust_hi)
            out["e_err"] = (sc.true_error_e_trust_lo, sc.true_error_e_trust_hi)
        return out

    @staticmethod
    def uses_true_error(sc) -> bool:
        """Whether a true-error level is set (frames are then also judged against their
        labels)."""
        return min(sc.true_error_f_trust_lo, sc.true_error_e_trust_lo) < 1e10

    @staticmethod
    def problems(sc, cfg, key: str = "simplify") -> list[str]:
        from raygen.science.dataset import data_set_problems

        out = data_set_problems(list(sc.pick_data), bool(sc.labeled), f"{key}.pick_data")
        for i, d in enumerate(cfg.init.data):  # trained on beside the picked frames
            out += _data_problems(f"init.data[{i}]", Path(d), list(cfg.type_map))
        for name in ("init_pick_number", "iter_pick_number"):
            if sc[name] < 1:
                out.append(f"{key}.{name}: must be >= 1, got {sc[name]}")
        for lo, hi in (("f_trust_lo", "f_trust_hi"), ("e_trust_lo", "e_trust_hi"),
                       ("true_error_f_trust_lo", "true_error_f_trust_hi"),
                       ("true_error_e_trust_lo", "true_error_e_trust_hi")):
            if sc[lo] < 0 or sc[hi] < 0:
                out.append(f"{key}.{lo}/{hi}: must be >= 0, got {sc[lo]} / {sc[hi]}")
            elif sc[lo] > sc[hi]:
                out.append(f"{key}.{lo}: {sc[lo]} is above {key}.{hi}: {sc[hi]}")
        if SimplifyConfig.uses_true_error(sc) and not sc.labeled:
            out.append(f"{key}.true_error_*: need labels to compare with; set "
                       f"{key}.labeled=true (a data set with energies and forces)")
        if sc.stop_iter is not None and sc.stop_iter < 1:
            out.append(f"{key}.stop_iter: must be >= 1 (iteration 0 only picks at random) "
                       f"or null, got {sc.stop_iter}")
        return out


@dataclass
class RaygenConfig:
    """A whole run: ``python -m raygen +exp=cu`` composes one of these."""

    workdir: str = "raygen_run"
    """run directory (relative paths: from where raygen is started)"""
    type_map: list[str] = field(default_factory=lambda: ["Cu"])
    """element of each atom type, in the order of the models' types"""
    systems: list[SystemConfig] = field(default_factory=list)
    """exploration systems (DP-GEN's `sys_configs`)"""
    max_iter: Optional[int] = None
    """stop after this many iterations; null: when the schedule ends or converges"""
    progress: bool = True
    """progress bars on the terminal"""
    no_limits: bool = False
    """accept values beyond raygen's bounds that protect the machine from a typo (more than 100,000
    starting configurations per system, 1e8 training or MD steps, an MD time step above 20 fs)"""
    init: InitConfig = field(default_factory=InitConfig)
    """initial training data"""
    train: TrainConfig = field(default_factory=TrainConfig)
    """the model ensemble"""
    explore: ExploreConfig = field(default_factory=ExploreConfig)
    """MD with the ensemble"""
    select: SelectConfig = field(default_factory=SelectConfig)
    """selection of frames for labelling"""
    label: LabelConfig = field(default_factory=LabelConfig)
    """the labeler"""
    cluster: ClusterConfig = field(default_factory=ClusterConfig)
    """where the run executes"""
    # property tests of the final ensemble (raygen.props), run at the end when enabled
    props: PropsConfig = field(default_factory=PropsConfig)
    """property tests of the final ensemble"""
    simplify: SimplifyConfig = field(default_factory=SimplifyConfig)
    """`python -m raygen.simplify`: a data set simplified by the ensemble's deviation"""

    @staticmethod
    def problems(cfg, _cfg=None, key: str = "") -> list[str]:
        """The run's own keys: iterations, the run directory, the type map."""
        out = []
        if cfg.max_iter is not None and cfg.max_iter < 0:
            out.append(f"max_iter: must be >= 0 or null, got {cfg.max_iter}")
        probe = Path(cfg.workdir)
        while not probe.exists() and probe != probe.parent:
            probe = probe.parent
        if probe.exists() and not probe.is_dir():
            out.append(f"workdir: {probe} is a file, not a directory")
        elif probe.exists() and not os.access(probe, os.W_OK | os.X_OK):
            out.append(f"workdir: {probe} is not writable; choose a run directory you can "
                       "write (workdir=...)")
        if not cfg.type_map:
            out.append("type_map: is empty; list the element of each atom type, e.g. [Cu]")
        for el in cfg.type_map:
            if el not in atomic_numbers:
                out.append(f"type_map: {el!r} is not a chemical element")
        if len(set(cfg.type_map)) != len(cfg.type_map):
            out.append(f"type_map: has duplicates: {list(cfg.type_map)}")
        return out

    @staticmethod
    def systems_problems(cfg) -> list[str]:
        """The exploration systems (the loop needs some; simplify none)."""
        out = []
        if not cfg.systems:
            out.append("systems: is empty; give at least one exploration system")
        names = [s.name for s in cfg.systems]
        if len(set(names)) != len(names):
            out.append(f"systems: names must be unique, got {names}")
        return out


def label_config_class(name: str) -> type[LabelConfig]:
    return load(LABELERS, name, "labeler").config_class


def explore_config_class(engine: str) -> type[ExploreConfig]:
    return load(ENGINES, engine, "exploration engine").config_class


def register_configs() -> None:
    """Store the schema, each group's schema and each plug-in's config dataclass."""
    cs = ConfigStore.instance()
    cs.store(name="raygen_schema", node=RaygenConfig)
    cs.store(group="train", name="schema", node=TrainConfig)
    cs.store(group="select", name="schema", node=SelectConfig)
    cs.store(group="cluster", name="schema", node=ClusterConfig)
    for name in LABELERS:
        cs.store(group="label", name=f"{name}_schema", node=label_config_class(name))
    for name in ENGINES:
        cs.store(group="explore", name=f"{name}_schema", node=explore_config_class(name))
