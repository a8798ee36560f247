"""A resume checks what each recorded step left before trusting it."""

import json

from ase.io import read

from raygen.actors.labeling import label_frame
from raygen.state.record import last_record, record_step, roll_back
from raygen.state.verify import first_inconsistent_step
from raygen.state.workdir import FRAME_FILE, OUTCOME_FILE
from raygen.steps.explore import post_model_devi
from raygen.steps.label import fp_tasks, make_fp
from tests.steps.test_steps_glue import ctx  # noqa: F401 - the synthetic run directory fixture


def write_models(ctx, n):  # noqa: F811
    ctx.rundir.train(0).mkdir(parents=True, exist_ok=True)
    for m in range(n):
        ctx.rundir.graph(0, m, "tf").write_bytes(b"model")


def selected(ctx):  # noqa: F811
    job = ctx.cfg.explore.jobs[0]
    post_model_devi(ctx, 0, job)
    make_fp(ctx, 0, job)
    for t in fp_tasks(ctx, 0):
        d = ctx.rundir.fp_task_dir(0, t["fp_task"])
        label_frame(ctx.cfg.label, read(d / FRAME_FILE), str(d))
    return job


def test_consistent_run_directory_passes(ctx, tmp_path):  # noqa: F811
    job = selected(ctx)
    write_models(ctx, 4)
    assert first_inconsistent_step(ctx, 0, 7, job) is None


def test_model_devi_cut_in_half_is_redone_and_the_old_labels_kept_aside(ctx, caplog):  # noqa: F811
    job = selected(ctx)
    write_models(ctx, 4)
    devi = ctx.rundir.model_devi_out(0, "task.000.000001")
    lines = devi.read_text().splitlines()
    devi.write_text("\n".join(lines[:16]) + "\n")
    with caplog.at_level("WARNING", logger="raygen"):
        assert first_inconsistent_step(ctx, 0, 7, job) == 4
    assert "task.000.000001/model_devi.out has 15 rows, its trajectory 31" in caplog.text
    assert not devi.exists()  # the deviation of that task is redone from its trajectory
    labelled = sorted(p.parent.name for p in ctx.rundir.fp(0).glob(f"task.*/{OUTCOME_FILE}"))
    make_fp(ctx, 0, job)  # a new selection never mixes with the old labelling tasks
    stale = ctx.rundir.iter(0) / "02.fp.stale.0"
    assert sorted(p.parent.name for p in stale.glob(f"task.*/{OUTCOME_FILE}")) == labelled
    assert not any(ctx.rundir.fp(0).glob(f"task.*/{OUTCOME_FILE}"))


def test_unreadable_outcome_and_selection_are_found(ctx):  # noqa: F811
    job = selected(ctx)
    write_models(ctx, 4)
    first = fp_tasks(ctx, 0)[0]["fp_task"]
    (ctx.rundir.fp_task_dir(0, first) / OUTCOME_FILE).write_text('{"stat')
    assert first_inconsistent_step(ctx, 0, 7, job) == 7
    assert not (ctx.rundir.fp_task_dir(0, first) / OUTCOME_FILE).exists()
    sel = json.loads(ctx.rundir.selection(0).read_text())
    sel["systems"]["0"]["accurate"] += 5
    ctx.rundir.selection(0).write_text(json.dumps(sel))
    assert first_inconsistent_step(ctx, 0, 7, job) == 6


def test_missing_model_reruns_training(ctx):  # noqa: F811
    job = ctx.cfg.explore.jobs[0]
    write_models(ctx, 3)
    assert first_inconsistent_step(ctx, 0, 2, job) == 1


def test_roll_back_keeps_earlier_lines(tmp_path):
    rec = tmp_path / "record.raygen"
    for ii, jj in [(0, j) for j in range(9)] + [(1, 0), (1, 1), (1, 2)]:
        record_step(rec, ii, jj)
    roll_back(rec, 1, 1)
    assert last_record(rec, 9) == (1, 0)
    roll_back(rec, 1, 0)
    assert last_record(rec, 9) == (0, 8)
