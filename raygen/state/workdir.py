"""The run directory: every path and file name of a run (DP-GEN's layout).

::

    <workdir>/record.raygen                 one "iter step" line per finished step
    <workdir>/raygen.yaml                   the resolved config of the last (re)start
    <workdir>/raygen.log                    log + per-iteration summary tables
    <workdir>/init/confs/<system>/          relaxed.extxyz, conf.000.extxyz, ...
    <workdir>/init/data.<system>/           initial data (deepmd/npy)
    <workdir>/iter.000000/00.train/000/     input.json, lcurve.out, checkpoints, train.log
    <workdir>/iter.000000/00.train/graph.000.pb (+ graph.000.compressed.pb, the MD model,
                                          made in .graph.000.compressed.pb.work/)
    <workdir>/iter.000001/00.train/late_labels.json, data.late.000/   labels of earlier
                                          iterations that were late (label.proceed_ratio)
    <workdir>/iter.000000/01.model_devi/task.000.000000/  engine inputs, log, task.json,
                                                          traj.parquet, model_devi.out
    <workdir>/iter.000000/01.model_devi/model_devi.parquet, stats.json
    <workdir>/iter.000000/02.fp/candidate.shuffled.000.out (+ rest_accurate, rest_failed)
    <workdir>/iter.000000/02.fp/selection.json, collected.json
    <workdir>/iter.000000/02.fp/task.000.000000/          frame.extxyz, labeler files,
                                                          labeled.extxyz, outcome.json
    <workdir>/iter.000000/02.fp/data.000/                 new labels (deepmd/npy)
    <workdir>/iter.000000/summary.json, timings.json
    <workdir>/models/graph.000.pb                         the final ensemble
    <workdir>/models/final_train.json                     which training made them
    <workdir>/models/manifest.json                        size and SHA-256 of each model
    <workdir>/final/<settings hash>/000/, graph.000.pb    the production training
                                                          (train.final), final_train.json
    <workdir>/props/props.json, props.md, *.png, cache/  the property tests
    <workdir>/report/index.html                          the run report

Steps, actors and engines get their paths from here; nothing else spells a file
name of the run directory. Names that come from the config (system names) are
checked by :func:`check_path_name` before they become paths.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from raygen.config.backend import compressed_name, graph_name
from raygen.config.schema import check_path_name  # noqa: F401 - names of the run directory

# file names also used outside a run directory (a production training's own folder,
# ``python -m raygen.props --out DIR``)
FINAL_TRAIN_RECORD = "final_train.json"
PROPS_RECORD = "props.json"
TRAIN_INPUT = "input.json"  # a member's DeePMD-kit input, in its training folder
PROPS_SUMMARY = "props.md"

def compress_work_dir(dst: Path) -> Path:
    """Where ``dp compress`` writes (and logs) before ``dst`` is published."""
    return Path(dst).parent / f".{Path(dst).name}.work"




def _component(name: str) -> str:
    why = check_path_name(name)
    if why:
        raise ValueError(why)
    return name


@dataclass(frozen=True)
class RunDir:
    root: Path

    # -- the run -------------------------------------------------------------------
    @property
    def record(self) -> Path:
        return self.root / "record.raygen"

    @property
    def log(self) -> Path:
        return self.root / "raygen.log"

    @property
    def config(self) -> Path:
        return self.root / "raygen.yaml"

    @property
    def models(self) -> Path:
        return self.root / "models"

    @property
    def final_train_record(self) -> Path:
        """``models/final_train.json``: which production training made ``models/``."""
        return self.models / FINAL_TRAIN_RECORD

    def final_train_dir(self, digest: str) -> Path:
        """``final/<digest>``: the production training of one set of settings."""
        return self.root / "final" / digest

    @property
    def props(self) -> Path:
        """``props/``: the property tests of the final ensemble."""
        return self.root / "props"

    @property
    def props_record(self) -> Path:
        return self.props / PROPS_RECORD

    @property
    def report(self) -> Path:
        return self.root / "report"

    # -- before iteration 0 ----------------------------------------------------------
    @property
    def init(self) -> Path:
        return self.root / "init"

    def init_data(self, system: str) -> Path:
        return self.init / f"data.{_component(system)}"

    def init_data_done(self, system: str) -> Path:
        return self.init_data(system) / "done"

    def init_label_task(self, system: str, k: int) -> Path:
        """Labelling task ``k`` of a system's initial frames (labelers run as programs)."""
        return self.init / f"label.{_component(system)}" / f"task.{k:06d}"

    def confs(self, system: str) -> Path:
        return self.init / "confs" / _component(system)

    def relaxed(self, system: str) -> Path:
        return self.confs(system) / "relaxed.extxyz"

    def conf(self, system: str, k: int) -> Path:
        return self.confs(system) / f"conf.{k:03d}.extxyz"

    # -- iterations ------------------------------------------------------------------
    def iter(self, ii: int) -> Path:
        return self.root / f"iter.{ii:06d}"

    def summary(self, ii: int) -> Path:
        return self.iter(ii) / "summary.json"

    def compute(self, ii: int) -> Path:
        """Critical-path compute of each step (:mod:`raygen.state.overhead`)."""
        return self.iter(ii) / "compute.json"

    def timings(self, ii: int) -> Path:
        return self.iter(ii) / "timings.json"

    # 00.train
    def train(self, ii: int) -> Path:
        return self.iter(ii) / "00.train"

    def train_task(self, ii: int, member: int) -> Path:
        return self.train(ii) / f"{member:03d}"

    def train_input(self, ii: int, member: int) -> Path:
        return self.train_task(ii, member) / TRAIN_INPUT

    def graph(self, ii: int, member: int, backend: str) -> Path:
        return self.train(ii) / graph_name(member, backend)

    def compressed_graph(self, ii: int, backend: str) -> Path:
        """The MD model of iteration ``ii`` compressed (``explore.compress``)."""
        return self.train(ii) / compressed_name(self.graph(ii, 0, backend))

    def late_labels(self, ii: int) -> Path:
        """Which labels of earlier iterations, late for their own iteration's
        successor, joined the training data here (``label.proceed_ratio`` < 1)."""
        return self.train(ii) / "late_labels.json"

    def late_data(self, ii: int, sys_idx: int) -> Path:
        return self.train(ii) / f"data.late.{sys_idx:03d}"

    def late_data_all(self, ii: int) -> list[Path]:
        return sorted(self.train(ii).glob("data.late.[0-9][0-9][0-9]"))

    @property
    def models_manifest(self) -> Path:
        """Size and SHA-256 of each published model, written with them."""
        return self.models / "manifest.json"

    def final_graph(self, member: int, backend: str) -> Path:
        return self.models / graph_name(member, backend)

    # 01.model_devi
    def model_devi(self, ii: int) -> Path:
        return self.iter(ii) / "01.model_devi"

    def md_task(self, ii: int, task_id: str) -> Path:
        return self.model_devi(ii) / task_id

    def md_task_json(self, ii: int, task_id: str) -> Path:
        return self.md_task(ii, task_id) / "task.json"

    def traj(self, ii: int, task_id: str) -> Path:
        """The task's frames (Arrow/Parquet): the durable mark that its MD is done."""
        return self.md_task(ii, task_id) / "traj.parquet"

    def model_devi_out(self, ii: int, task_id: str) -> Path:
        """DP-GEN's per-task deviation file: the mark that its deviation is done."""
        return self.md_task(ii, task_id) / "model_devi.out"

    def descriptors(self, ii: int, task_id: str) -> Path:
        """A task's frame vectors in descriptor space (select.pick=fps): ``steps`` and
        ``vectors``, in the rows of its model_devi.out."""
        return self.md_task(ii, task_id) / "descriptors.npz"

    def md_error(self, ii: int, task_id: str) -> Path:
        return self.md_task(ii, task_id) / "md_error.txt"

    def deviations(self, ii: int) -> Path:
        return self.model_devi(ii) / "model_devi.parquet"

    def md_stats(self, ii: int) -> Path:
        return self.model_devi(ii) / "stats.json"

    def md_growth(self, ii: int) -> Path:
        """Each system's MD-length factor of the iteration (explore.grow)."""
        return self.model_devi(ii) / "growth.json"

    # 02.fp
    def fp(self, ii: int) -> Path:
        return self.iter(ii) / "02.fp"

    def fp_task(self, ii: int, sys_idx: int, k: int) -> Path:
        return self.fp(ii) / f"task.{sys_idx:03d}.{k:06d}"

    def fp_task_dir(self, ii: int, name: str) -> Path:
        return self.fp(ii) / name

    def by_condition(self, ii: int) -> Path:
        """Accurate / candidate / failed frames per (system, T, P) of iteration ``ii``."""
        return self.fp(ii) / "by_condition.json"

    def trust_check(self, ii: int) -> Path:
        """Iteration ``ii``'s ensemble on its new labels: deviation vs. true error."""
        return self.fp(ii) / "trust_check.json"

    def fp_data(self, ii: int, sys_idx: int) -> Path:
        return self.fp(ii) / f"data.{sys_idx:03d}"

    def fp_data_all(self, ii: int) -> list[Path]:
        return sorted(self.fp(ii).glob("data.[0-9][0-9][0-9]"))

    def selection_file(self, ii: int, kind: str, sys_idx: int) -> Path:
        """kind: candidate, rest_accurate or rest_failed."""
        return self.fp(ii) / f"{kind}.shuffled.{sys_idx:03d}.out"

    def selection(self, ii: int) -> Path:
        return self.fp(ii) / "selection.json"

    def collected(self, ii: int) -> Path:
        return self.fp(ii) / "collected.json"


# Files inside one labelling task directory (02.fp/task.*): the frame to label,
# the converged label, and the outcome (the durable mark that the task is done).
FRAME_FILE = "frame.extxyz"
LABELED_FILE = "labeled.extxyz"
OUTCOME_FILE = "outcome.json"
