"""The loop itself, with fake steps (as dpgen2's mocked_ops): resume at every step,
rollback after a failed resume check, schedule exhaustion, convergence, the finish
and late labels joining — no Ray, no deepmd-kit, milliseconds per run.

The fake steps write what the real ones leave for the loop (frozen graphs, the
selection, the collected labels, late-label files) and log every step they finish.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import pytest
from omegaconf import OmegaConf, open_dict

from raygen.config.schema import ModelDeviJob, RaygenConfig, SystemConfig
from raygen.loop import ConcurrentLearning, LoopParts
from raygen.state.record import STEP_NAMES, step_phase
from raygen.steps import late_labels
from raygen.steps.table import Step

N_MODELS = 2


class Interrupted(Exception):
    """A kill: the step was cut off before it finished."""


class FakeSteps:
    """Nine steps that do what the loop needs of them. ``plan[ii]`` is iteration
    ``ii``'s (accurate, candidate, failed); ``late`` the iterations whose labelling
    leaves one label late (``label.proceed_ratio``)."""

    def __init__(self, plan: dict[int, tuple[int, int, int]], late: tuple[int, ...] = (),
                 kill_at: int | None = None) -> None:
        self.plan, self.late, self.kill_at = plan, late, kill_at
        self.calls = 0
        self.done: list[tuple[int, str]] = []

    def table(self) -> tuple[Step, ...]:
        return tuple(Step(name, step_phase(j), self._step(name))
                     for j, name in enumerate(STEP_NAMES))

    def _step(self, name):
        def run(ctx, ii, job):
            self.calls += 1
            if self.calls == self.kill_at:
                raise Interrupted(f"killed in {name} of iteration {ii}")
            getattr(self, name, lambda ctx, ii: None)(ctx, ii)
            self.done.append((ii, name))
        return run

    # -- what each step leaves ------------------------------------------------------
    def make_train(self, ctx, ii):
        rd = ctx.rundir
        taken = late_labels.pending(ctx, ii)
        if taken:  # the late labels of earlier iterations join this training
            rd.train(ii).mkdir(parents=True, exist_ok=True)
            rd.late_labels(ii).write_text(json.dumps({"collected": taken,
                                                      "labels_added": len(taken)}))

    def run_train(self, ctx, ii):
        for m in range(N_MODELS):
            g = ctx.rundir.graph(ii, m, ctx.backend)
            g.parent.mkdir(parents=True, exist_ok=True)
            g.write_text(f"model of iteration {ii}, member {m}")

    def make_fp(self, ctx, ii):
        acc, cand, fail = self.plan[ii]
        ctx.rundir.fp(ii).mkdir(parents=True, exist_ok=True)
        ctx.rundir.selection(ii).write_text(json.dumps(
            {"systems": {"0": {"accurate": acc, "candidate": cand, "failed": fail}}}))

    def post_fp(self, ctx, ii):
        _, cand, _ = self.plan[ii]
        late = []
        if ii in self.late:
            entry = {"iteration": ii, "fp_task": "task.000.000000", "sys_idx": 0}
            task = ctx.rundir.fp_task_dir(ii, entry["fp_task"])
            task.mkdir(parents=True, exist_ok=True)
            (task / "outcome.json").write_text('{"status": "converged"}')  # it finished
            late = [entry]
        ctx.rundir.collected(ii).write_text(json.dumps(
            {"labels_added": cand - len(late), "late": late}))


def _parts(steps: FakeSteps, checks=None) -> LoopParts:
    def prepare(ctx):
        ctx.confs = {0: [Path("conf.000.extxyz"), Path("conf.001.extxyz")]}

    def resume_check(ctx, ii, done, job):
        return checks.pop(0) if checks else None

    return LoopParts(steps=steps.table(), prepare=prepare, resume_check=resume_check,
                     runtime=lambda ctx, loop: contextlib.nullcontext())


def _cfg(tmp_path, jobs: list[dict], **over) -> RaygenConfig:
    cfg = OmegaConf.structured(RaygenConfig)
    cfg.workdir = str(tmp_path / "run")
    cfg.progress = False
    cfg.train.numb_models = N_MODELS
    cfg.systems = [OmegaConf.structured(SystemConfig(name="cu"))]
    cfg.explore.jobs = [OmegaConf.structured(ModelDeviJob(sys_idx=[0], temps=[100.0], **j))
                        for j in jobs]
    for key, value in over.items():
        OmegaConf.update(cfg, key, value)
    return cfg


def _run(cfg, steps, checks=None):
    return ConcurrentLearning(cfg, _parts(steps, checks)).run()


PLAN = {0: (50, 40, 10), 1: (80, 15, 5), 2: (95, 4, 1)}


def test_a_run_goes_through_every_step_of_every_iteration_and_publishes_the_last_models(
        tmp_path):
    steps = FakeSteps(PLAN)
    summaries = _run(_cfg(tmp_path, [{}, {}, {}]), steps)
    assert [s["iteration"] for s in summaries] == [0, 1, 2]
    assert [(s["accurate"], s["candidate"], s["failed"]) for s in summaries] == \
        [PLAN[0], PLAN[1], PLAN[2]]
    assert [s["labels_added"] for s in summaries] == [40, 15, 4]
    # the nine steps of each iteration in order, then the train phase on all labels
    assert steps.done == [(ii, n) for ii in range(3) for n in STEP_NAMES] + \
        [(3, "make_train"), (3, "run_train"), (3, "post_train")]
    models = Path(tmp_path / "run" / "models")
    assert (models / "graph.001.pb").read_text() == "model of iteration 3, member 1"
    lines = (tmp_path / "run" / "record.raygen").read_text().split()
    assert len(lines) == 2 * (3 * 9 + 3)


def test_a_finished_run_started_again_does_nothing(tmp_path):
    cfg = _cfg(tmp_path, [{}, {}])
    _run(cfg, FakeSteps(PLAN))
    again = FakeSteps(PLAN)
    assert [s["iteration"] for s in _run(cfg, again)] == [0, 1]
    assert again.done == []


def test_a_run_killed_in_any_step_resumes_there_and_redoes_nothing_finished(tmp_path):
    order = [(ii, n) for ii in range(2) for n in STEP_NAMES] + \
        [(2, "make_train"), (2, "run_train"), (2, "post_train")]  # and the final training
    reference = _run(_cfg(tmp_path / "ref", [{}, {}]), FakeSteps(PLAN))
    for k in range(1, len(order) + 1):
        cfg = _cfg(tmp_path / f"kill{k}", [{}, {}])
        first = FakeSteps(PLAN, kill_at=k)
        with pytest.raises(Interrupted):
            _run(cfg, first)
        second = FakeSteps(PLAN)
        summaries = _run(cfg, second)
        # every step finished exactly once over the two starts, none lost, none redone
        assert first.done + second.done == order, k
        assert second.done[0] == order[k - 1]  # it resumed in the step it was killed in
        assert [(s["accurate"], s["labels_added"]) for s in summaries] == \
            [(s["accurate"], s["labels_added"]) for s in reference]


def test_a_failed_resume_check_rolls_the_record_back_and_runs_the_step_again(tmp_path):
    cfg = _cfg(tmp_path, [{}, {}])
    first = FakeSteps(PLAN, kill_at=8)  # killed in run_fp of iteration 0
    with pytest.raises(Interrupted):
        _run(cfg, first)
    assert first.done[-1] == (0, "make_fp")
    second = FakeSteps(PLAN)
    _run(cfg, second, checks=[4])  # the check finds run_model_devi's output damaged
    assert second.done[:3] == [(0, "run_model_devi"), (0, "post_model_devi"), (0, "make_fp")]
    log = (tmp_path / "run" / "raygen.log").read_text()
    assert "iteration 0: step 4 (run_model_devi) and what follows run again" in log


def test_the_schedule_ends_the_run_and_max_iter_cuts_it(tmp_path):
    assert len(_run(_cfg(tmp_path / "a", [{}, {}, {}]), FakeSteps(PLAN))) == 3
    steps = FakeSteps(PLAN)
    assert len(_run(_cfg(tmp_path / "b", [{}, {}, {}], max_iter=1), steps)) == 1
    assert steps.done[-1] == (1, "post_train")  # iteration 0's labels still trained on
    empty = FakeSteps(PLAN)
    assert _run(_cfg(tmp_path / "c", []), empty) == [] and empty.done == []


def test_a_converged_iteration_skips_the_rest_of_its_stage(tmp_path):
    plan = {0: (50, 40, 10), 1: (99, 1, 0), 2: (60, 30, 10), 3: (70, 20, 10)}
    jobs = [{"stage": 0}, {"stage": 0}, {"stage": 0}, {"stage": 1}]
    summaries = _run(_cfg(tmp_path, jobs), FakeSteps(plan))
    # iteration 1 reaches accurate ratio 0.99: job 2 (stage 0) is skipped
    assert [s["job"] for s in summaries] == [0, 1, 3]
    assert [s["stage_converged"] for s in summaries] == [False, True, False]


def test_no_labels_in_the_last_iteration_publishes_its_own_models(tmp_path):
    plan = {0: (50, 40, 10), 1: (100, 0, 0)}
    steps = FakeSteps(plan)
    _run(_cfg(tmp_path, [{}, {}], **{"select.converge_accurate_ratio": None}), steps)
    assert steps.done[-1] == (1, "post_fp")  # no train phase after it
    assert (tmp_path / "run" / "models" / "graph.000.pb").read_text() == \
        "model of iteration 1, member 0"


def test_late_labels_join_the_next_training_and_the_last_ones_the_final_one(tmp_path):
    steps = FakeSteps(PLAN, late=(0, 1))
    summaries = _run(_cfg(tmp_path, [{}, {}]), steps)
    assert [s["labels_late"] for s in summaries] == [1, 1]
    assert [s["late_labels_joined"] for s in summaries] == [0, 1]
    joined = json.loads((tmp_path / "run" / "iter.000002" / "00.train" /
                         "late_labels.json").read_text())
    assert [e["iteration"] for e in joined["collected"]] == [1]  # iteration 1's late one
    ctx = ConcurrentLearning(_cfg(tmp_path, [{}, {}]), _parts(FakeSteps(PLAN))).ctx
    assert late_labels.pending(ctx, 3) == []  # every late label was taken in


def test_values_from_the_environment_are_not_written_resolved_into_raygen_yaml(
        tmp_path, monkeypatch):
    monkeypatch.setenv("RAYGEN_TEST_LICENSE", "s3cret-licence-key")
    cfg = _cfg(tmp_path, [{}])
    with open_dict(cfg):  # any key: a labeler's licence, a token
        cfg.workdir_note = "${oc.env:RAYGEN_TEST_LICENSE}"
        cfg.copy_of_it = "--key ${workdir_note}"
    _run(cfg, FakeSteps(PLAN))
    text = (tmp_path / "run" / "raygen.yaml").read_text()
    assert "s3cret" not in text
    assert "${oc.env:RAYGEN_TEST_LICENSE}" in text and "--key ${workdir_note}" in text
    assert f"workdir: {tmp_path / 'run'}" in text  # everything else resolved
    saved = OmegaConf.load(tmp_path / "run" / "raygen.yaml")
    assert saved.copy_of_it == "--key s3cret-licence-key"  # still resolves when read back


def test_a_finished_run_does_not_vouch_for_a_damaged_model(tmp_path, caplog):
    cfg = _cfg(tmp_path, [{}, {}])
    _run(cfg, FakeSteps(PLAN))
    models = tmp_path / "run" / "models"
    manifest = json.loads((models / "manifest.json").read_text())
    assert set(manifest) == {f"graph.{m:03d}.pb" for m in range(N_MODELS)}
    good = (models / "graph.000.pb").read_bytes()
    (models / "graph.000.pb").write_bytes(good[:5])  # truncated
    again = FakeSteps(PLAN)
    _run(cfg, again)
    assert again.done == []  # nothing trained again: the model is published again
    assert (models / "graph.000.pb").read_bytes() == good
    assert "graph.000.pb: 5 bytes" in caplog.text and "publishing them again" in caplog.text


class AdaptiveSteps(FakeSteps):
    """make_fp records the adapted lower level of system 0 from ``levels[ii]``."""

    def __init__(self, plan, levels):
        super().__init__(plan)
        self.levels = levels

    def make_fp(self, ctx, ii):
        acc, cand, fail = self.plan[ii]
        ctx.rundir.fp(ii).mkdir(parents=True, exist_ok=True)
        ctx.rundir.selection(ii).write_text(json.dumps({"systems": {"0": {
            "accurate": acc, "candidate": cand, "failed": fail, "trust_adapted": True,
            "f_trust": [self.levels[ii], 0.3]}}}))


def test_a_steady_adapted_level_ends_its_stage(tmp_path):
    """dpgen2's adaptive-lower rule: the stage converges when the adapted level moved less
    than the tolerance over the last n iterations of the stage, and a kill between its
    iterations does not reset the history (it is read back from the selections)."""
    plan = {k: (50, 40, 10) for k in range(6)}
    levels = {0: 0.20, 1: 0.12, 2: 0.115, 3: 0.112, 4: 0.05, 5: 0.05}
    jobs = [{"stage": 0}] * 5 + [{"stage": 1}]
    over = {"select.adapt_trust_lo": True, "select.converge_level_steps": 3,
            "select.converge_level_tolerance": 0.01, "select.converge_accurate_ratio": None}
    summaries = _run(_cfg(tmp_path / "a", jobs, **over), AdaptiveSteps(plan, levels))
    # 0.12 -> 0.115 -> 0.112: steady at iteration 3; job 4 (stage 0) is skipped
    assert [s["job"] for s in summaries] == [0, 1, 2, 3, 5]
    assert [s["stage_converged"] for s in summaries] == [False, False, False, True, False]
    # the same, killed in the middle of iteration 3 and resumed
    cfg = _cfg(tmp_path / "b", jobs, **over)
    with pytest.raises(Interrupted):
        _run(cfg, _killing(plan, levels, at=3 * 9 + 2))
    summaries = _run(cfg, AdaptiveSteps(plan, levels))
    assert [s["stage_converged"] for s in summaries] == [False, False, False, True, False]


def _killing(plan, levels, at):
    steps = AdaptiveSteps(plan, levels)
    steps.kill_at = at
    return steps


def test_a_finished_run_extended_with_more_jobs_continues_after_its_last_iteration(tmp_path):
    """Editing the experiment (more exploration jobs, a new stage) and running the same
    command continues after the last finished iteration: nothing done is redone — the
    training on all labels that the finish made is the new iteration's own."""
    plan = {0: (50, 40, 10), 1: (80, 15, 5), 2: (90, 8, 2)}
    first = FakeSteps(plan)
    _run(_cfg(tmp_path, [{}, {}]), first)
    assert (tmp_path / "run" / "models" / "graph.000.pb").read_text() == \
        "model of iteration 2, member 0"
    more = FakeSteps(plan)
    summaries = _run(_cfg(tmp_path, [{}, {}, {"stage": 5}]), more)
    assert [s["iteration"] for s in summaries] == [0, 1, 2]
    # iteration 2's training was done by the first run's finish: only explore and label
    assert more.done[:6] == [(2, n) for n in STEP_NAMES[3:]]
    assert (2, "make_train") not in more.done and (2, "run_train") not in more.done
    # then the new finish: a training on all labels, published
    assert more.done[6:] == [(3, "make_train"), (3, "run_train"), (3, "post_train")]
    assert (tmp_path / "run" / "models" / "graph.000.pb").read_text() == \
        "model of iteration 3, member 0"


def _cut_record(run: Path, keep_before: tuple[int, int]) -> None:
    lines = (run / "record.raygen").read_text().splitlines()
    (run / "record.raygen").write_text("".join(
        f"{ln}\n" for ln in lines if tuple(map(int, ln.split())) < keep_before))


def test_a_record_cut_by_hand_redoes_from_there_as_dpgen_does(tmp_path):
    """DP-GEN's way to redo: delete the last lines of the record. Later iterations and
    later phases are set aside (<dir>.bk000) and redone; resuming at a make step backs
    up that phase's folder too; nothing is deleted."""
    cfg = _cfg(tmp_path, [{}, {}])
    _run(cfg, FakeSteps(PLAN))
    run = tmp_path / "run"
    _cut_record(run, (1, 0))  # redo iteration 1 from its start
    again = FakeSteps(PLAN)
    summaries = _run(cfg, again)
    assert again.done == [(1, n) for n in STEP_NAMES] + \
        [(2, "make_train"), (2, "run_train"), (2, "post_train")]
    for kept in ("iter.000002.bk000", "iter.000001/00.train.bk000",
                 "iter.000001/02.fp.bk000"):  # (the fake steps make no 01.model_devi)
        assert (run / kept).is_dir(), kept
    assert [s["iteration"] for s in summaries] == [0, 1]
    timings = json.loads((run / "iter.000001" / "timings.json").read_text())
    assert set(timings) == set(STEP_NAMES)  # the redone steps' times, not twice

    # cut inside iteration 0's labelling phase: its folder is kept (finished units
    # stay done), the later iterations are set aside
    _cut_record(run, (0, 7))
    again = FakeSteps(PLAN)
    _run(cfg, again)
    assert again.done[:2] == [(0, "run_fp"), (0, "post_fp")]
    assert (run / "iter.000001.bk000").is_dir() and not (run / "iter.000000/02.fp.bk000").exists()


def test_a_kill_is_never_taken_for_a_record_cut_by_hand(tmp_path):
    from raygen.state.record import resume_point
    from raygen.state.rollback import cut_by_hand
    from raygen.state.workdir import RunDir

    for k in range(1, 2 * 9 + 1):
        with pytest.raises(Interrupted):
            _run(_cfg(tmp_path / f"k{k}", [{}, {}]), FakeSteps(PLAN, kill_at=k))
        rd = RunDir(tmp_path / f"k{k}" / "run")
        ii, jj = resume_point(rd.record, 9)
        assert not cut_by_hand(rd, ii, jj), k
