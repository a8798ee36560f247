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

from dataclasses import dataclass, field
from typing import Any, Optional

from hydra.core.config_store import ConfigStore

from raygen.config.backend import Backend
from raygen.config.plugins import ENGINES, LABELERS, EngineName, LabelerName, load
from raygen.config.props import PropsConfig
from raygen.config.strenum import StrEnum, vocabulary


class NeighborStat(StrEnum):
    """Which members of an exploring iteration compute deepmd-kit's neighbour
    statistics (``train.neighbor_stat``)."""

    all = "all"
    first = "first"


class Structure(StrEnum):
    bulk = "bulk"
    surface = "surface"
    file = "file"


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
    supercell: list[int] = field(default_factory=lambda: [2, 2, 2])
    """repeats of the cell along a, b, c (bulk, surface)"""
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
    confs: Optional[str] = None
    """glob of ready starting configurations, every frame of every file, used as given (DP-GEN's
    `sys_configs`); nothing is built, relaxed or perturbed"""
    n_confs: int = 4
    """randomly perturbed copies of the (relaxed) structure that start MD tasks"""
    atom_pert: float = 0.01
    """largest random displacement of each atom in a copy (Å)"""
    cell_pert: float = 0.03
    """largest random strain of the cell in a copy (fraction)"""
    relax: bool = True
    """relax the structure with the labeler's reference calculator before perturbing it"""
    vacancies: int = 0
    """atoms removed at random (seeded) to explore point defects"""


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
    """start from new weights instead of the last iteration's checkpoint"""
    start_lr: Optional[float] = None
    """start learning rate; null: the template's"""
    input: dict[str, Any] = field(default_factory=dict)
    """DeePMD-kit input merged over `train.input` for this training only (e.g.
    `++train.final.input.loss.limit_pref_v=10`)"""


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
