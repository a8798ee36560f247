"""The simplify loop: DP-GEN's nine steps per iteration over a data set instead of MD.

Iteration 0 picks ``init_pick_number`` frames at random (``01.model_devi/data.picked``,
the others ``data.rest``) and labels them (``02.fp``). Each later iteration trains the
ensemble on everything picked so far (``00.train``, raygen's Trainer actors), evaluates
it on the previous iteration's rest (``01.model_devi/details``: the Evaluator actors,
the deviations of ``dp model-devi``; with true-error levels also the error against the
labels, ``true_error``), splits the rest into picked / rest / accurate by DP-GEN's rules
(:mod:`raygen.simplify.pick`) and labels the picked frames — with the data set's own
labels (``labeled``) or with ``label`` as Ray CPU tasks, as the loop does. It stops at
step 3 of the iteration whose rest is empty or that is ``stop_iter``, publishing that
iteration's ensemble in ``models/``. ``record.raygen`` records each step; the same
command resumes after the last one.
"""

from __future__ import annotations

import contextlib
import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import ray
from ase.io import write

from raygen.atomic import atomic_write, atomic_write_json, atomic_write_text, replace_dir
from raygen.cluster import actor_options, check_feasible, kill_all
from raygen.config.record import recorded_yaml
from raygen.config.schema import RaygenConfig, SimplifyConfig
from raygen.errors import RunError
from raygen.science.dataset import count_frames, deepmd_systems
from raygen.science.deviation import format_model_devi
from raygen.science.frames import deviation_array
from raygen.simplify import dataset
from raygen.simplify.pick import (
    ACCURATE,
    CANDIDATE,
    FAILED,
    classify,
    pick_candidates,
    random_split,
)
from raygen.state.context import RunContext
from raygen.state.lock import RunLock
from raygen.state.record import record_step, resume_point
from raygen.state.workdir import FRAME_FILE, RunDir
from raygen.steps import label, train

log = logging.getLogger("raygen")

STEP_NAMES = ("make_train", "run_train", "post_train", "make_model_devi", "run_model_devi",
              "post_model_devi", "make_fp", "run_fp", "post_fp")
PICKED, REST, ACCURATE_DATA = "data.picked", "data.rest", "data.accurate"


class Simplify:
    """Runs (or resumes) ``python -m raygen.simplify`` in ``cfg.workdir``."""

    def __init__(self, cfg: RaygenConfig) -> None:
        self.cfg = cfg
        self.sc = cfg.simplify
        self.rundir = RunDir(Path(cfg.workdir).resolve())
        self.ctx = RunContext(cfg, self.rundir)
        self.labeled = bool(self.sc.labeled)

    # -- where things are ------------------------------------------------------------
    def md_dir(self, ii: int) -> Path:
        return self.rundir.model_devi(ii)

    def subset(self, ii: int, name: str):
        return dataset.read_subset(self.md_dir(ii) / name, self.ctx.type_map, self.labeled)

    def counts_file(self, ii: int) -> Path:
        return self.md_dir(ii) / "counts.json"

    # -- the loop --------------------------------------------------------------------
    def run(self) -> dict:
        from raygen.loop import ray_runtime, setup_logging

        rd = self.rundir
        rd.root.mkdir(parents=True, exist_ok=True)
        setup_logging(rd.log)
        with RunLock(rd.root):
            atomic_write_text(rd.config, recorded_yaml(self.cfg))
            self.ctx.init_systems = [s for d in self.cfg.init.data
                                     for s in deepmd_systems(Path(d))]
            ii, jj = resume_point(rd.record, len(STEP_NAMES))
            if (ii, jj) != (0, 0):
                log.info("resuming at iteration %d, step %d (%s)", ii, jj, STEP_NAMES[jj])
            with ray_runtime(self.ctx, False):
                check_feasible(self.cfg.cluster)
                while True:
                    for j in range(jj, len(STEP_NAMES)):
                        if not self.step(ii, j):
                            return self.finish(ii)
                        record_step(rd.record, ii, j)
                    ii, jj = ii + 1, 0

    def step(self, ii: int, jj: int) -> bool:
        """Run step ``jj`` of iteration ``ii``; False: simplify stops here."""
        name = STEP_NAMES[jj]
        if ii == 0 and jj < 3:
            return True  # nothing picked yet to train on
        if name == "make_model_devi":
            return self.make_model_devi(ii)
        if ii == 0 and name in ("run_model_devi", "post_model_devi"):
            return True  # iteration 0 picked at random
        getattr(self, name)(ii)
        return True

    # -- 00.train: the loop's own steps, on init.data + every 02.fp/data.* so far -------
    def make_train(self, ii: int) -> None:
        train.make_train(self.ctx, ii)

    def run_train(self, ii: int) -> None:
        train.run_train(self.ctx, ii)

    def post_train(self, ii: int) -> None:
        train.post_train(self.ctx, ii)

    # -- 01.model_devi ---------------------------------------------------------------
    def make_model_devi(self, ii: int) -> bool:
        if ii == 0:
            self.init_pick()
            return True
        if self.sc.stop_iter is not None and ii >= self.sc.stop_iter:
            log.info("iter %d: simplify.stop_iter=%d reached", ii, self.sc.stop_iter)
            return False
        if count_frames(deepmd_systems(self.md_dir(ii - 1) / REST)) == 0:
            log.info("iter %d: nothing left to pick from", ii)
            return False
        self.md_dir(ii).mkdir(parents=True, exist_ok=True)
        return True

    def init_pick(self) -> None:
        whole = dataset.load(list(self.sc.pick_data), self.ctx.type_map, self.labeled)
        frames = dataset.frame_index(whole)
        picked, rest = random_split(len(frames), int(self.sc.init_pick_number),
                                    np.random.default_rng(int(self.sc.seed)))
        out = self.md_dir(0)
        out.mkdir(parents=True, exist_ok=True)
        dataset.write_subset(whole, [frames[k] for k in picked], out / PICKED)
        dataset.write_subset(whole, [frames[k] for k in rest], out / REST)
        atomic_write_json(self.counts_file(0), {"frames": len(frames), "picked": len(picked),
                                                "rest": len(rest)})
        log.info("iter 0: %d of %d frames picked at random (%d left)", len(picked),
                 len(frames), len(rest))

    def run_model_devi(self, ii: int) -> None:
        """The ensemble's deviations (and errors against the labels) on the rest."""
        true_error = SimplifyConfig.uses_true_error(self.sc)
        rest = self.subset(ii - 1, REST)
        frames = dataset.frames_of(rest, self.ctx.type_map, labeled=true_error)
        passes = [("details", False)] + ([("true_error", True)] if true_error else [])
        models = [str(p) for p in self.ctx.graphs(ii)]
        for name, against_labels in passes:
            table = self.evaluate(models, frames, against_labels)
            pq.write_table(table, self.md_dir(ii) / f"{name}.parquet")
            atomic_write_text(self.md_dir(ii) / name, details_text(table))
        log.info("iter %d: %d frames of the rest evaluated by the ensemble", ii,
                 frames.num_rows)

    def evaluate(self, models: list[str], frames: pa.Table, against_labels: bool) -> pa.Table:
        from raygen.actors.evaluator import Evaluator

        cfg = self.cfg
        batch = int(cfg.explore.deviation_batch)
        chunks = [frames.slice(lo, batch) for lo in range(0, frames.num_rows, batch)]
        n = max(1, min(int(cfg.cluster.evaluator.count), len(chunks)))
        workers = [Evaluator.options(**actor_options(cfg.cluster.evaluator)).remote(
            models, batch, self.ctx.threads) for _ in range(n)]
        try:
            pool = ray.util.ActorPool(workers)
            parts = list(pool.map_unordered(
                lambda a, c: a.evaluate.remote(c, against_labels), chunks))
        finally:
            kill_all(workers)
        table = pa.concat_tables([p.replace_schema_metadata(None) for p in parts])
        return table.sort_by([("sys_idx", "ascending"), ("step", "ascending")])

    def post_model_devi(self, ii: int) -> None:
        rest = self.subset(ii - 1, REST)
        frames = dataset.frame_index(rest)
        values = by_frame(pq.read_table(self.md_dir(ii) / "details.parquet"), "")
        if SimplifyConfig.uses_true_error(self.sc):
            values.update(by_frame(pq.read_table(self.md_dir(ii) / "true_error.parquet"),
                                   "_err"))
        status = classify(values, SimplifyConfig.levels(self.sc))
        split = pick_candidates(status, int(self.sc.iter_pick_number),
                                np.random.default_rng([int(self.sc.seed), ii]))
        counts = split.counts(status)
        total = len(status)
        for k in (CANDIDATE, ACCURATE, FAILED):
            log.info("iter %d %-9s: %6d in %6d %6.2f %%", ii, k, counts[k], total,
                     100.0 * counts[k] / max(total, 1))
        if counts[CANDIDATE] == 0 and counts[FAILED] > 0:
            raise RunError(
                f"iter {ii}: no candidate, but {counts[FAILED]} frames failed (a deviation "
                "at or above its upper level): train longer (train.numb_steps) or raise "
                "simplify.f_trust_hi / e_trust_hi (DP-GEN stops here too)")
        out = self.md_dir(ii)
        dataset.write_subset(rest, [frames[k] for k in split.picked], out / PICKED)
        dataset.write_subset(rest, [frames[k] for k in split.rest], out / REST)
        dataset.write_subset(rest, [frames[k] for k in split.accurate], out / ACCURATE_DATA)
        atomic_write_json(self.counts_file(ii), {**counts, "rest": int(len(split.rest))})

    # -- 02.fp -----------------------------------------------------------------------
    def make_fp(self, ii: int) -> None:
        picked = self.subset(ii, PICKED)
        rd = self.rundir
        if self.labeled:  # the data set's own labels: DP-GEN links data.picked
            src = self.md_dir(ii) / PICKED
            if picked.get_nframes():
                replace_dir(rd.fp_data(ii, 0),
                            lambda tmp: shutil.copytree(src, tmp, dirs_exist_ok=True))
            return
        label.set_aside_fp(self.ctx, ii)
        tasks = []
        for s, name in enumerate(sorted(picked.systems)):
            for k, atoms in enumerate(picked[name].to("ase/structure")):
                fdir = rd.fp_task(ii, s, k)
                tasks.append({"fp_task": fdir.name, "sys_idx": s, "system": name,
                              "frame": k})
                fdir.mkdir(parents=True, exist_ok=True)
                atoms.info.update({"system": name, "frame": k, "iteration": ii})
                atomic_write(fdir / FRAME_FILE,
                             lambda tmp, a=atoms: write(tmp, a, format="extxyz"))
        atomic_write_json(rd.selection(ii), {"tasks": tasks})

    def run_fp(self, ii: int) -> None:
        if not self.labeled:
            label.run_fp(self.ctx, ii)

    def post_fp(self, ii: int) -> None:
        if not self.labeled:
            label.post_fp(self.ctx, ii)
            return
        added = count_frames(s for d in self.rundir.fp_data_all(ii) for s in deepmd_systems(d))
        atomic_write_json(self.rundir.collected(ii), {"labels_added": added,
                                                      "label_status": {"given": added}})

    # -- the end ---------------------------------------------------------------------
    def finish(self, ii: int) -> dict:
        from raygen.steps import final_train

        final_train.publish(self.ctx, ii)
        summary = self.summary(ii)
        atomic_write_json(self.rundir.root / "simplify.json", summary)
        log.info("simplify finished at iteration %d: %d of %d frames picked; models "
                 "(trained on them) in %s", ii, summary["picked"], summary["frames"],
                 self.rundir.models)
        return summary

    def summary(self, ii: int) -> dict:
        per_iter = []
        for i in range(ii):
            with contextlib.suppress(OSError, ValueError):
                per_iter.append({"iteration": i,
                                 **json.loads(self.counts_file(i).read_text())})
        picked = sum(c.get("picked", 0) for c in per_iter)
        frames = per_iter[0].get("frames", 0) if per_iter else 0
        return {"iterations": ii, "frames": frames, "picked": picked,
                "per_iteration": per_iter}


def by_frame(table: pa.Table, suffix: str) -> dict[str, np.ndarray]:
    """Force and energy deviation of each frame, in (system, frame) order."""
    devi = deviation_array(table)
    return {f"f{suffix}": devi[:, 3], f"e{suffix}": devi[:, 6]}


def details_text(table: pa.Table) -> str:
    """``dp model-devi``'s output: per system a ``# <system>`` line, then its rows."""
    parts = []
    task_ids = table.column("task_id").to_pylist()
    devi = deviation_array(table)
    steps = table.column("step").to_numpy()
    for name in dict.fromkeys(task_ids):
        idx = [k for k, t in enumerate(task_ids) if t == name]
        parts.append(f"# data.rest.old/{name}\n" + format_model_devi(steps[idx], devi[idx]))
    return "".join(parts)
