"""The concurrent-learning loop: iterations of train -> explore -> label.

Each iteration runs the nine steps of :data:`raygen.steps.table.STEPS` (make/run/post of
train, model_devi and fp), appending ``"iter step"`` to ``record.raygen`` as each
finishes. Re-running the same command resumes after the last recorded step, and
inside a step every finished unit (a trained model, an MD task, a labelled frame)
is found on disk and not redone. The run stops when the exploration schedule is
exhausted (an exploration stage is over when its jobs are done or when an
iteration of it converged), or at ``max_iter``; the final ensemble, trained on all
labels, lands in ``<workdir>/models/``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import ray
from tqdm.contrib.logging import logging_redirect_tqdm

from raygen.actors.lane import LanePool, lane_count, use_lanes
from raygen.atomic import atomic_write_json, atomic_write_text
from raygen.cluster import check_feasible, check_shared_workdir, connect
from raygen.config.record import recorded_yaml
from raygen.config.schema import ModelDeviJob, RaygenConfig
from raygen.props import step as props_step
from raygen.report.summary import assemble_summary, format_table, selection_counts
from raygen.selection.convergence import IterationStats, stage_stopper
from raygen.state.context import RunContext
from raygen.state.lock import RunLock
from raygen.state.record import phase_steps, record_step, resume_point, roll_back
from raygen.state.rollback import roll_back_outputs
from raygen.state.schedule import job_of_iteration, stage_of
from raygen.state.stop import check_stop, restore_signals, stop_on_signals
from raygen.state.verify import first_inconsistent_step
from raygen.state.workdir import RunDir
from raygen.steps import final_train, late_labels
from raygen.steps.prepare import prepare
from raygen.steps.table import STEPS, Step

log = logging.getLogger("raygen")


def setup_logging(logfile: Path) -> None:
    """Log to ``raygen.log`` (appending across restarts) and, if nobody else does,
    to stderr."""
    log.setLevel(logging.INFO)
    for h in list(log.handlers):
        if getattr(h, "_raygen", False):
            log.removeHandler(h)
    fh = logging.FileHandler(logfile)
    fh.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    fh._raygen = True  # type: ignore[attr-defined]
    log.addHandler(fh)
    if not logging.getLogger().handlers:
        sh = logging.StreamHandler(sys.stderr)
        sh.setFormatter(logging.Formatter("[raygen] %(message)s"))
        sh._raygen = True  # type: ignore[attr-defined]
        log.addHandler(sh)
        log.propagate = False


@contextlib.contextmanager
def ray_runtime(ctx: RunContext, loop: bool) -> Iterator[None]:
    """Ray for the run (started here, or the cluster joined) and, when the loop runs
    on a workstation, its warm lanes; SIGTERM stops the run like Ctrl-C. Everything
    started here is stopped on the way out."""
    cfg = ctx.cfg
    started = connect(cfg.cluster, ctx.rundir.root)
    previous = stop_on_signals()  # again: ray.init sets its own SIGTERM handler
    try:
        check_stop()
        if loop:
            check_feasible(cfg.cluster)
            if cfg.cluster.address:
                check_shared_workdir(ctx.rundir.root)
            if use_lanes(cfg):
                ctx.lanes = LanePool(cfg, ctx.type_map, ctx.backend)
                log.info("training, MD and deviations on %d warm lanes (cluster.lanes)",
                         lane_count(cfg.cluster))
        yield
    finally:
        if ctx.lanes is not None:
            ctx.lanes.close()
            ctx.lanes = None
        if started:
            ray.shutdown()
        restore_signals(previous)


ResumeCheck = Callable[[RunContext, int, int, ModelDeviJob], Optional[int]]


@dataclass(frozen=True)
class LoopParts:
    """What the loop drives: the step table, the preparation before the first step,
    the resume check, and the runtime the steps run in (Ray). raygen's own by
    default; the loop's tests give fakes, so the loop itself (resume at every step,
    rollback, schedule, convergence, the finish, late labels) runs in milliseconds."""

    steps: tuple[Step, ...] = STEPS
    prepare: Callable[[RunContext], None] = prepare
    resume_check: ResumeCheck = first_inconsistent_step
    runtime: Callable[[RunContext, bool], AbstractContextManager] = ray_runtime


class ConcurrentLearning:
    """Runs (or resumes) the loop a config describes in ``cfg.workdir``."""

    def __init__(self, cfg: RaygenConfig, parts: Optional[LoopParts] = None) -> None:
        self.cfg = cfg
        self.parts = parts or LoopParts()
        self.steps = self.parts.steps
        self.rundir = RunDir(Path(cfg.workdir).resolve())
        self.ctx = RunContext(cfg, self.rundir)
        self.jobs = list(cfg.explore.jobs)
        self.stopper = stage_stopper(cfg.select.converge_accurate_ratio,
                                     cfg.select.converge_level_steps,
                                     cfg.select.converge_level_tolerance)

    # -- schedule ----------------------------------------------------------------
    def summary(self, ii: int) -> Optional[dict]:
        path = self.rundir.summary(ii)
        return json.loads(path.read_text()) if path.exists() else None

    def summaries(self, upto: int) -> list[dict]:
        return [s for s in (self.summary(i) for i in range(upto)) if s]

    def converged(self, ii: int) -> bool:
        s = self.summary(ii)
        return bool(s and s.get("stage_converged"))

    def job_index(self, ii: int) -> Optional[int]:
        if self.cfg.max_iter is not None and ii >= self.cfg.max_iter:
            return None
        return job_of_iteration(self.jobs, ii, self.converged)

    def finished(self) -> bool:
        """The final ensemble is in ``models/``, each model as it was written: the run
        has nothing left to do. A damaged one is said, and the run publishes again."""
        if not all(self.rundir.final_graph(m, self.ctx.backend).exists()
                   for m in range(self.cfg.train.numb_models)):
            return False
        bad = final_train.damaged(self.ctx)
        for why in bad:
            log.warning("final models: %s; publishing them again", why)
        return not bad

    # -- the run -----------------------------------------------------------------
    def run(self) -> list[dict]:
        self.rundir.root.mkdir(parents=True, exist_ok=True)
        setup_logging(self.rundir.log)
        with RunLock(self.rundir.root):
            return self._run_locked()

    def _run_locked(self) -> list[dict]:
        ii, jj = resume_point(self.rundir.record, len(self.steps))
        if self.job_index(ii) is None and self.finished() and not final_train.pending(self.ctx):
            if props_step.pending(self.cfg, self.rundir, self.ctx.backend):
                with self.parts.runtime(self.ctx, False):  # the models are there, not
                    props_step.run(self.cfg, self.rundir, self.ctx.backend)  # their tests
            log.info("run already finished (%d iterations); final models in %s\n%s", ii,
                     self.rundir.models, format_table(self.summaries(ii)))
            return self.summaries(ii)
        # the resolved config of this (re)start, beside the results it produces (values
        # from the environment — licences, tokens — left as written, never resolved)
        atomic_write_text(self.rundir.config, recorded_yaml(self.cfg))
        # log lines go through tqdm while progress bars are drawn, not across them
        console = logging.getLogger() if log.propagate else log
        bars = logging_redirect_tqdm(loggers=[console]) if self.cfg.progress \
            else contextlib.nullcontext()
        try:
            with self.parts.runtime(self.ctx, True), bars:
                return self._run()
        except KeyboardInterrupt:
            log.warning("interrupted; finished work is kept: run the same command to resume")
            raise

    def _run(self) -> list[dict]:
        self.parts.prepare(self.ctx)
        ii, jj = resume_point(self.rundir.record, len(self.steps))
        for folder, backup in roll_back_outputs(self.rundir, ii, jj):
            log.warning("record.raygen was cut back to iteration %d, step %d (%s): %s is "
                        "redone, the earlier one kept as %s", ii, jj, self.steps[jj].name,
                        folder.relative_to(self.rundir.root), backup.name)
        if jj > 0 and self.job_index(ii) is not None:
            bad = self.parts.resume_check(self.ctx, ii, jj - 1,
                                          self.jobs[self.job_index(ii)])
            if bad is not None:
                log.warning("iteration %d: step %d (%s) and what follows run again",
                            ii, bad, self.steps[bad].name)
                roll_back(self.rundir.record, ii, bad)
                jj = bad
        if (ii, jj) != (0, 0):
            log.info("resuming at iteration %d, step %d (%s)", ii, jj, self.steps[jj].name)
        # late labels of earlier iterations (label.proceed_ratio) that a kill stopped
        late_labels.ensure_running(self.ctx, late_labels.pending(self.ctx, ii))
        while True:
            job_idx = self.job_index(ii)
            if job_idx is None:
                break
            self.run_iteration(ii, jj, job_idx)
            ii, jj = ii + 1, 0
        self.finish(ii, jj)
        return self.summaries(ii)

    def run_iteration(self, ii: int, first_step: int, job_idx: int) -> Optional[dict]:
        job = self.jobs[job_idx]
        self.rundir.iter(ii).mkdir(parents=True, exist_ok=True)
        for jj in range(first_step, len(self.steps)):
            last = jj == len(self.steps) - 1
            self.run_step(ii, jj, job, then=(lambda: self.write_summary(ii, job_idx))
                          if last else None)
        return self.summary(ii)

    def run_step(self, ii: int, jj: int, job, then=None) -> None:
        """Run step ``jj`` of iteration ``ii``, add its wall time to the iteration's
        timings, run ``then``, and only then record it as finished."""
        step: Step = self.steps[jj]
        check_stop()  # a stop asked for during the last step's bookkeeping
        start = time.perf_counter()
        step.run(self.ctx, ii, job)
        self.ctx.record_time(ii, step.name, time.perf_counter() - start)
        if then is not None:
            then()
        record_step(self.rundir.record, ii, jj)

    def write_summary(self, ii: int, job_idx: int) -> None:
        rd = self.rundir
        stage = stage_of(self.jobs, job_idx)
        counts = selection_counts(json.loads(rd.selection(ii).read_text()))
        stats = IterationStats(ii, stage, **counts,
                               f_lo_history=self.adapted_levels(ii, stage))
        converged = self.stopper(stats)
        md = len(self.ctx.md_tasks(ii, self.jobs[job_idx]))
        summary = assemble_summary(rd, ii, job_idx, stage, self.ctx.timings(ii), md,
                                   converged)
        atomic_write_json(rd.summary(ii), summary)
        log.info("iteration %d done (job %d, stage %d)%s\n%s", ii, job_idx, stage,
                 f": stage converged ({self.stopper.which(stats)})" if converged else "",
                 format_table(self.summaries(ii + 1)))

    def adapted_levels(self, ii: int, stage: int) -> list[dict[str, float]]:
        """The adapted lower force level of each system in each iteration of ``stage``
        up to ``ii`` (read from the selections, so a resumed run sees them all)."""
        out = []
        for k in range(ii + 1):
            path = self.rundir.selection(k)
            if not path.exists():
                continue
            if k < ii:
                summary = self.summary(k)
                if summary is None or summary.get("stage") != stage:
                    continue
            systems = json.loads(path.read_text()).get("systems", {})
            out.append({s: float(c["f_trust"][0]) for s, c in systems.items()
                        if c.get("trust_adapted")})
        return out

    def finish(self, ii: int, jj: int) -> None:
        """Train the final ensemble on all labels (if the last iteration added any),
        publish it in ``<workdir>/models`` and, with ``props.enabled``, test it."""
        last = self.summary(ii - 1) if ii > 0 else None
        final_iter = ii - 1
        late = late_labels.pending(self.ctx, ii)
        if late:  # every late label joins the final training: nothing is dropped
            late_labels.settle(self.ctx, ii)
        if last is not None and (last.get("labels_added", 0) > 0 or late
                                 or self.rundir.late_labels(ii).exists()):
            final_iter = ii
            for j in phase_steps("train"):
                if j >= jj:
                    self.run_step(ii, j, None)
        if final_iter < 0:
            log.info("no iteration ran: the schedule is empty or max_iter is 0")
            return
        production = final_train.publish(self.ctx, final_iter)
        log.info("run finished after %d iterations; final models (%s, trained on "
                 "all labels) in %s\n%s", ii,
                 f"train.final, {self.cfg.train.final.numb_steps} steps" if production
                 else f"iter {final_iter}", self.rundir.models,
                 format_table(self.summaries(ii)))
        if self.cfg.props.enabled:
            props_step.run(self.cfg, self.rundir, self.ctx.backend)
