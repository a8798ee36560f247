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
    structure: Structure = Structure.bulk
    element: str = "Cu"
    crystal: str = "fcc"
    a: Optional[float] = None
    c: Optional[float] = None
    supercell: list[int] = field(default_factory=lambda: [2, 2, 2])
    miller: Optional[str] = None
    layers: int = 4
    vacuum: float = 4.0
    path: Optional[str] = None
    # ready starting configurations, used as given (DP-GEN's sys_configs): a glob of
    # structure files ASE reads (every frame of each, in name order); when set, the
    # structure is neither built, relaxed nor perturbed and n_confs is not used
    confs: Optional[str] = None
    n_confs: int = 4
    atom_pert: float = 0.01
    cell_pert: float = 0.03
    relax: bool = True
    vacancies: int = 0


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
    systems: list[str] = field(default_factory=list)
    scales: list[float] = field(default_factory=lambda: [1.0])
    strains: list[float] = field(default_factory=list)
    n_perturb: int = 2
    atom_pert: float = 0.01
    cell_pert: float = 0.03
    md_steps: int = 20
    md_stride: int = 1
    md_temperature: float = 50.0
    md_timestep_fs: float = 2.0


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
    from_scratch: bool = False
    start_lr: Optional[float] = None
    input: dict[str, Any] = field(default_factory=dict)


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
    numb_models: int = 4
    numb_steps: int = 2000
    seed: int = 0
    init_model_from_previous: bool = False
    init_model_numb_steps: Optional[int] = None
    init_model_start_lr_scale: float = 1.0
    disp_freq: int = 100
    neighbor_stat: NeighborStat = NeighborStat.first
    input: dict[str, Any] = field(default_factory=dict)
    final: FinalTrainConfig = field(default_factory=FinalTrainConfig)


@dataclass
class ModelDeviJob:
    """One exploration iteration (DP-GEN's ``model_devi_jobs`` entry).

    ``stage`` groups consecutive jobs (e.g. one temperature interval): when an
    iteration of a stage converges, the stage's remaining jobs are skipped.
    Trust levels and ``fp_task_max`` set here override ``select`` for this job only.
    """

    sys_idx: list[int] = field(default_factory=list)
    temps: list[float] = field(default_factory=list)
    press: list[float] = field(default_factory=lambda: [1.0])
    ensemble: Ensemble = Ensemble["npt"]  # type: ignore[valid-type]
    nsteps: int = 1000
    trj_freq: int = 10
    confs_per_sys: Optional[int] = None
    stage: Optional[int] = None
    fp_task_max: Optional[int] = None
    f_trust_lo: Any = None
    f_trust_hi: Any = None
    v_trust_lo: Any = None
    v_trust_hi: Any = None


@dataclass
class ExploreConfig:
    """Molecular dynamics with the current ensemble, by an exploration ``engine``
    (a plug-in: its own keys live in its subclass, e.g. ``LammpsExploreConfig``)."""

    engine: EngineName = EngineName["lammps"]  # type: ignore[valid-type]
    dt: float = 0.002
    tau_t: float = 0.1
    tau_p: float = 0.5
    model_devi_skip: int = 0
    deviation_batch: int = 200
    # the model that drives MD is compressed with `dp compress` (DP-GEN's dp_compress)
    compress: bool = True
    jobs: list[ModelDeviJob] = field(default_factory=list)


@dataclass
class SelectConfig:
    """DP-GEN's selection rules and the convergence stop rule.

    Trust levels are scalars or one value per system (list indexed by sys_idx).
    ``v_trust_lo``/``v_trust_hi`` (virial, eV/atom) are off when null.
    """

    f_trust_lo: Any = 0.05
    f_trust_hi: Any = 0.20
    v_trust_lo: Any = None
    v_trust_hi: Any = None
    fp_task_max: int = 20
    fp_task_min: int = 1
    fp_accurate_threshold: float = 1.0
    fp_accurate_soft_threshold: Optional[float] = None
    seed: int = 0
    converge_accurate_ratio: Optional[float] = 0.99


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
    timeout: Optional[float] = None
    max_retries: int = 2
    max_failed_ratio: float = 0.5
    proceed_ratio: float = 1.0


@dataclass
class WorkerResources:
    """Ray resources of one kind of worker and how many run at once. Where it may
    run: ``label_selector`` (node labels it needs, e.g. ``{raygen.io/pool: cpu}``;
    ``ray start --labels``, KubeRay's ``rayStartParams.labels``) and ``resources``
    (custom Ray resources it takes, e.g. ``{dft: 1}``)."""

    count: int = 1
    num_cpus: float = 1.0
    num_gpus: float = 0.0
    resources: dict[str, float] = field(default_factory=dict)
    label_selector: dict[str, str] = field(default_factory=dict)


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
    autoscaling: bool = False
    num_cpus: Optional[int] = None
    num_gpus: Optional[int] = None
    threads_per_worker: int = 1
    stall_warn_s: Optional[float] = 300.0
    lanes: Optional[bool] = None
    trainer: WorkerResources = field(default_factory=lambda: WorkerResources(count=2))
    explorer: WorkerResources = field(default_factory=lambda: WorkerResources(count=2))
    evaluator: WorkerResources = field(default_factory=lambda: WorkerResources(count=2))
    labeler: WorkerResources = field(default_factory=lambda: WorkerResources(count=2))


@dataclass
class RaygenConfig:
    """A whole run: ``python -m raygen +exp=cu`` composes one of these."""

    workdir: str = "raygen_run"
    type_map: list[str] = field(default_factory=lambda: ["Cu"])
    systems: list[SystemConfig] = field(default_factory=list)
    max_iter: Optional[int] = None
    progress: bool = True
    init: InitConfig = field(default_factory=InitConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    explore: ExploreConfig = field(default_factory=ExploreConfig)
    select: SelectConfig = field(default_factory=SelectConfig)
    label: LabelConfig = field(default_factory=LabelConfig)
    cluster: ClusterConfig = field(default_factory=ClusterConfig)
    # property tests of the final ensemble (raygen.props), run at the end when enabled
    props: PropsConfig = field(default_factory=PropsConfig)


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
