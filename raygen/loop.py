"""The concurrent-learning loop: iterations of train -> explore -> label.

Each iteration runs DP-GEN's nine stages (make/run/post x train/model_devi/fp),
appending ``"iter stage"`` to ``record.raygen`` as each finishes. Re-running the
same command resumes after the last recorded stage, and inside a stage every
finished task (a trained model, an MD task, a labelled frame) is found on disk
and not redone. The run stops when the exploration schedule is exhausted (a
stage is over when its jobs are done or when an iteration of it converged), or
at ``max_iter``; the final ensemble, trained on all labels, lands in
``<workdir>/models/``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import shutil
import signal
import sys
import threading
import time
from pathlib import Path

import ray
from omegaconf import OmegaConf
from tqdm.contrib.logging import logging_redirect_tqdm

from raygen import explore_step, label_step, train_step
from raygen.atomic import atomic_write_json, atomic_write_text
from raygen.cluster import connect
from raygen.context import RunContext
from raygen.prepare import prepare_confs, prepare_init_data
from raygen.record import STAGES, record_stage, resume_point
from raygen.report.summary import format_table, iteration_summary
from raygen.schedule import job_of_iteration, stage_of
from raygen.selection.convergence import IterationStats, stage_stopper
from raygen.workdir import RunDir

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


def _interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def _sigterm_as_interrupt():
    """SIGTERM (scancel, a Slurm time limit, kill) stops the run like Ctrl-C."""
    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGTERM, _interrupt)


class ConcurrentLearning:
    """Runs (or resumes) the loop a config describes in ``cfg.workdir``."""

    def __init__(self, cfg) -> None:
        self.cfg = cfg
        self.rundir = RunDir(Path(cfg.workdir).resolve())
        self.ctx = RunContext(cfg, self.rundir)
        self.jobs = list(cfg.explore.jobs)
        self.stopper = stage_stopper(cfg.select.converge_accurate_ratio)

    # -- schedule ----------------------------------------------------------------
    def summary(self, ii: int) -> dict | None:
        path = self.rundir.summary(ii)
        return json.loads(path.read_text()) if path.exists() else None

    def converged(self, ii: int) -> bool:
        s = self.summary(ii)
        return bool(s and s.get("stage_converged"))

    def job_index(self, ii: int) -> int | None:
        if self.cfg.max_iter is not None and ii >= self.cfg.max_iter:
            return None
        return job_of_iteration(self.jobs, ii, self.converged)

    # -- the run -----------------------------------------------------------------
    def run(self) -> list[dict]:
        self.rundir.root.mkdir(parents=True, exist_ok=True)
        setup_logging(self.rundir.log)
        # the resolved config of this (re)start, beside the results it produces
        atomic_write_text(self.rundir.root / "raygen.yaml",
                          OmegaConf.to_yaml(self.cfg, resolve=True))
        started = connect(self.cfg.cluster)
        previous = _sigterm_as_interrupt()  # after ray.init, which sets its own
        # log lines go through tqdm while progress bars are drawn, not across them
        console = logging.getLogger() if log.propagate else log
        bars = logging_redirect_tqdm(loggers=[console]) if self.cfg.progress \
            else contextlib.nullcontext()
        try:
            with bars:
                return self._run()
        except KeyboardInterrupt:
            log.warning("interrupted; finished work is kept: run the same command to resume")
            raise
        finally:
            if started:
                ray.shutdown()
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)

    def _run(self) -> list[dict]:
        t0 = time.perf_counter()
        self.ctx.confs = prepare_confs(self.cfg, self.rundir)
        self.ctx.init_systems = prepare_init_data(self.cfg, self.rundir)
        log.info("prepared in %.1f s: %d systems, %d initial data systems",
                 time.perf_counter() - t0, len(self.ctx.confs), len(self.ctx.init_systems))
        ii, jj = resume_point(self.rundir.record)
        if (ii, jj) != (0, 0):
            log.info("resuming at iteration %d, stage %d (%s)", ii, jj, STAGES[jj])
        while True:
            job_idx = self.job_index(ii)
            if job_idx is None:
                break
            self.run_iteration(ii, jj, job_idx)
            ii, jj = ii + 1, 0
        self.finish(ii, jj)
        return [s for s in (self.summary(i) for i in range(ii)) if s]

    def run_iteration(self, ii: int, first_stage: int, job_idx: int) -> dict:
        job = self.jobs[job_idx]
        ctx = self.ctx
        self.rundir.iter(ii).mkdir(parents=True, exist_ok=True)
        stages = [
            lambda: train_step.make_train(ctx, ii),
            lambda: train_step.run_train(ctx, ii),
            lambda: train_step.post_train(ctx, ii),
            lambda: explore_step.make_model_devi(ctx, ii, job),
            lambda: explore_step.run_model_devi(ctx, ii, job),
            lambda: explore_step.post_model_devi(ctx, ii, job),
            lambda: label_step.make_fp(ctx, ii, job),
            lambda: label_step.run_fp(ctx, ii),
            lambda: self.post_fp(ii, job_idx),
        ]
        for jj in range(first_stage, len(stages)):
            self.run_stage(ii, jj, stages[jj],
                           then=(lambda: self.write_summary(ii, job_idx))
                           if jj == len(stages) - 1 else None)
        return self.summary(ii)

    def run_stage(self, ii: int, jj: int, stage, then=None) -> None:
        """Run stage ``jj`` of iteration ``ii``, add its wall time to the
        iteration's timings, run ``then``, and only then record it as finished."""
        start = time.perf_counter()
        stage()
        self.ctx.record_time(ii, STAGES[jj], time.perf_counter() - start)
        if then is not None:
            then()
        record_stage(self.rundir.record, ii, jj)

    def post_fp(self, ii: int, job_idx: int) -> None:
        atomic_write_json(self.rundir.fp(ii) / "collected.json",
                          label_step.post_fp(self.ctx, ii))

    def write_summary(self, ii: int, job_idx: int) -> None:
        selection = json.loads((self.rundir.fp(ii) / label_step.SELECTION_FILE).read_text())
        fp = json.loads((self.rundir.fp(ii) / "collected.json").read_text())
        stage = stage_of(self.jobs, job_idx)
        counts = {k: sum(s[k] for s in selection["systems"].values())
                  for k in ("accurate", "candidate", "failed")}
        converged = self.stopper(IterationStats(ii, stage, **counts))
        md = len(explore_step.md_tasks(self.ctx, ii, self.jobs[job_idx]))
        summary = iteration_summary(ii, job_idx, stage, selection, fp,
                                    self.ctx.timings(ii), md, converged)
        atomic_write_json(self.rundir.summary(ii), summary)
        all_s = [s for s in (self.summary(i) for i in range(ii + 1)) if s]
        table = format_table(all_s)
        log.info("iteration %d done (job %d, stage %d)%s\n%s", ii, job_idx, stage,
                 f": stage converged ({self.stopper.which(IterationStats(ii, stage, **counts))})"
                 if converged else "", table)

    def finish(self, ii: int, jj: int) -> None:
        """Train the final ensemble on all labels (if the last iteration added any)
        and copy it to ``<workdir>/models``."""
        last = self.summary(ii - 1) if ii > 0 else None
        final_iter = ii - 1
        if last is not None and last.get("labels_added", 0) > 0:
            final_iter = ii
            train = (train_step.make_train, train_step.run_train, train_step.post_train)
            for stage in range(jj, len(train)):
                self.run_stage(ii, stage, lambda fn=train[stage]: fn(self.ctx, ii))
        if final_iter < 0:
            log.info("no iteration ran: the schedule is empty or max_iter is 0")
            return
        models = self.rundir.root / "models"
        models.mkdir(exist_ok=True)
        for m in range(self.cfg.train.numb_models):
            src = self.rundir.graph(final_iter, m, self.cfg.train.backend)
            shutil.copyfile(src, models / src.name)
        log.info("run finished after %d iterations; final models (iter %d, trained on "
                 "all labels) in %s", ii, final_iter, models)
