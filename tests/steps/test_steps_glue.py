"""The driver-side glue of the steps (post_model_devi, make_fp, post_fp, the
summary) on a small synthetic run directory: no Ray, no deepmd-kit, milliseconds.

The selection files are pinned: ``tests/data/selection_iter0`` was written by the
code before the steps were reorganised, from the same synthetic deviations, so the
same seeds still pick the same frames.
"""

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from hydra import compose, initialize_config_module

from raygen.actors.labeling import label_frame
from raygen.config.schema import register_configs
from raygen.errors import RunError
from raygen.report.summary import format_table, iteration_summary
from raygen.science.deviation import write_model_devi
from raygen.science.frames import frames_table
from raygen.state.context import RunContext
from raygen.state.record import phase_seconds
from raygen.state.workdir import FRAME_FILE, RunDir
from raygen.steps.explore import post_model_devi
from raygen.steps.label import fp_tasks, make_fp, post_fp

register_configs()
PINNED = Path(__file__).parent / "data" / "selection_iter0"


@pytest.fixture
def ctx(tmp_path):
    """cu_smoke's config and 31 synthetic frames per MD task (4-atom Cu cells) with
    log-uniform deviations, exactly as the pinned files were made."""
    with initialize_config_module(version_base=None, config_module="raygen.conf"):
        cfg = compose(config_name="config", overrides=[
            "+exp=cu_smoke", f"workdir={tmp_path / 'run'}",
            # the selection settings the pinned files were made with
            "select.f_trust_lo=0.05", "select.f_trust_hi=0.2", "select.fp_task_max=5"])
    rd = RunDir(tmp_path / "run")
    ctx = RunContext(cfg, rd, confs={0: [Path("a"), Path("b")], 1: [Path("a"), Path("b")]})
    rng = np.random.default_rng(42)
    for t in ctx.md_tasks(0, cfg.explore.jobs[0]):
        rd.md_task(0, t.task_id).mkdir(parents=True)
        n, natoms = 31, 4
        steps = np.arange(n) * 10
        pq.write_table(frames_table(t.task_id, t.sys_idx, steps,
                                    np.tile(np.eye(3) * 3.6, (n, 1, 1)),
                                    rng.uniform(0, 3.6, (n, natoms, 3)),
                                    np.zeros(natoms, int)), rd.traj(0, t.task_id))
        write_model_devi(rd.model_devi_out(0, t.task_id), steps,
                         np.exp(rng.uniform(np.log(0.005), np.log(0.5), (n, 7))))
    return ctx


def test_post_model_devi_collects_every_task(ctx):
    table = post_model_devi(ctx, 0, ctx.cfg.explore.jobs[0])
    assert table.num_rows == 4 * 31
    assert pq.read_table(ctx.rundir.deviations(0)).equals(table)
    assert sorted(set(table.column("sys_idx").to_pylist())) == [0, 1]


def test_make_fp_writes_the_pinned_selection(ctx):
    job = ctx.cfg.explore.jobs[0]
    post_model_devi(ctx, 0, job)
    record = make_fp(ctx, 0, job)
    for pinned in sorted(PINNED.iterdir()):
        assert (ctx.rundir.fp(0) / pinned.name).read_text() == pinned.read_text(), pinned.name
    assert record == json.loads((PINNED / "selection.json").read_text())
    # one task dir per chosen frame, holding that frame's atoms
    for t in fp_tasks(ctx, 0):
        assert (ctx.rundir.fp_task_dir(0, t["fp_task"]) / FRAME_FILE).exists()
    assert len(fp_tasks(ctx, 0)) == sum(s["chosen"] for s in record["systems"].values())


def test_post_fp_keeps_only_converged_labels_and_summary_counts(ctx):
    job = ctx.cfg.explore.jobs[0]
    post_model_devi(ctx, 0, job)
    selection = make_fp(ctx, 0, job)
    tasks = fp_tasks(ctx, 0)
    from ase.io import read
    for t in tasks[1:]:
        d = ctx.rundir.fp_task_dir(0, t["fp_task"])
        label_frame(ctx.cfg.label, read(d / FRAME_FILE), str(d))
    bad = ctx.rundir.fp_task_dir(0, tasks[0]["fp_task"])
    (bad / "outcome.json").write_text(json.dumps({"status": "scf_unconverged",
                                                  "message": "SCF NOT converged"}))
    collected = post_fp(ctx, 0)
    assert collected["labels_added"] == len(tasks) - 1
    assert collected["label_status"] == {"converged": len(tasks) - 1, "scf_unconverged": 1}
    assert json.loads(ctx.rundir.collected(0).read_text()) == collected
    timings = {"make_train": 1.0, "run_train": 10.0, "run_model_devi": 5.0, "run_fp": 2.0}
    s = iteration_summary(0, 0, 0, selection, collected, timings, phase_seconds(timings),
                          4, False)
    assert (s["train_s"], s["explore_s"], s["label_s"], s["total_s"]) == (11.0, 5.0, 2.0, 18.0)
    assert s["frames"] == 4 * 31 and s["labels_added"] == len(tasks) - 1
    assert f"{len(tasks) - 1:>6d}" in format_table([s]).splitlines()[-1]


def test_an_iteration_whose_labels_all_failed_is_an_error(ctx):
    job = ctx.cfg.explore.jobs[0]
    post_model_devi(ctx, 0, job)
    make_fp(ctx, 0, job)
    for t in fp_tasks(ctx, 0):
        (ctx.rundir.fp_task_dir(0, t["fp_task"]) / "outcome.json").write_text(
            json.dumps({"status": "crashed", "message": "mpirun: not found"}))
    with pytest.raises(RunError, match=r"(?s)(\d+) of \1 labels failed.*mpirun: not found"):
        post_fp(ctx, 0)


def test_an_iteration_whose_md_all_failed_is_an_error(ctx):
    job = ctx.cfg.explore.jobs[0]
    for t in ctx.md_tasks(0, job):
        ctx.rundir.md_error(0, t.task_id).write_text("LAMMPS: ERROR: Lost atoms\n")
    with pytest.raises(RunError, match="all 4 MD tasks failed.*Lost atoms"):
        post_model_devi(ctx, 0, job)
    ctx.rundir.md_error(0, "task.000.000000").unlink()  # one task ran: the rest is data
    assert post_model_devi(ctx, 0, job).num_rows == 4 * 31


def test_failure_budget_stops_the_run_after_keeping_the_converged_labels(ctx):
    from ase.io import read
    from omegaconf import OmegaConf

    job = ctx.cfg.explore.jobs[0]
    post_model_devi(ctx, 0, job)
    make_fp(ctx, 0, job)
    tasks = fp_tasks(ctx, 0)
    for t in tasks[1:]:
        d = ctx.rundir.fp_task_dir(0, t["fp_task"])
        label_frame(ctx.cfg.label, read(d / FRAME_FILE), str(d))
    bad = ctx.rundir.fp_task_dir(0, tasks[0]["fp_task"])
    (bad / "outcome.json").write_text(json.dumps({"status": "timeout", "message": "600 s"}))
    (bad / "stderr.log").write_text("cp2k: killed\n")
    OmegaConf.update(ctx.cfg, "label.max_failed_ratio", 0.0)
    with pytest.raises(RunError, match=rf"(?s)1 of {len(tasks)} labels failed.*"
                                       r"timeout: 600 s \| cp2k: killed"):
        post_fp(ctx, 0)
    kept = json.loads(ctx.rundir.collected(0).read_text())
    assert kept["labels_added"] == len(tasks) - 1
    assert any(ctx.rundir.fp_data_all(0))


def labelled_iteration(ctx):
    from ase.io import read
    job = ctx.cfg.explore.jobs[0]
    post_model_devi(ctx, 0, job)
    make_fp(ctx, 0, job)
    for t in fp_tasks(ctx, 0):
        d = ctx.rundir.fp_task_dir(0, t["fp_task"])
        label_frame(ctx.cfg.label, read(d / FRAME_FILE), str(d))
    post_fp(ctx, 0)


@pytest.mark.parametrize("damage", ["truncate", "shape", "nan"])
def test_a_damaged_label_set_is_named_set_aside_and_made_again_from_its_labels(ctx, damage):
    from raygen.science.dataset import deepmd_systems, label_set_problem
    from raygen.steps import label_sets
    from raygen.steps.train import training_systems

    labelled_iteration(ctx)
    systems = training_systems(ctx, 1)
    assert systems and all(label_set_problem(s) is None for s in systems)
    before = {s: np.load(next(s.glob("set.*")) / "force.npy") for s in systems}
    victim = next(systems[0].glob("set.*")) / "force.npy"
    if damage == "truncate":
        victim.write_bytes(victim.read_bytes()[:100])
    elif damage == "shape":
        np.save(victim, np.zeros((3, 5)))
    else:
        arr = np.load(victim)
        arr[0, 0] = np.nan
        np.save(victim, arr)
    why = label_set_problem(systems[0])
    assert why is not None and why.startswith(str(victim))
    assert label_sets.repair(ctx, systems) is True
    again = training_systems(ctx, 1)
    assert again == systems and all(label_set_problem(s) is None for s in again)
    for s in again:  # the same labels, from the tasks' stored outcomes (no DFT)
        assert np.allclose(np.load(next(s.glob("set.*")) / "force.npy"), before[s])
    aside = [p for p in ctx.rundir.fp(0).iterdir() if ".damaged." in p.name]
    assert len(aside) == 1 and deepmd_systems(aside[0])  # kept, beside it
    assert label_sets.repair(ctx, again) is False


def test_damaged_given_data_stops_the_run_naming_it(ctx, tmp_path):
    from raygen.steps import label_sets

    labelled_iteration(ctx)
    given = tmp_path / "given" / "sys"
    import shutil
    shutil.copytree(ctx.rundir.fp_data_all(0)[0], tmp_path / "given")
    sysdir = next((tmp_path / "given").rglob("type.raw")).parent
    (next(sysdir.glob("set.*")) / "energy.npy").write_bytes(b"not numpy")
    with pytest.raises(RunError, match="init.data: .*energy.npy: unreadable"):
        label_sets.repair(ctx, [sysdir])
    assert given.parent.exists()


def test_make_fp_labels_only_frames_fit_to_label(ctx):
    """select.sanity.min_distance_ratio on the synthetic trajectories (4 atoms placed at
    random: some frames have two atoms nearly on top of each other)."""
    from omegaconf import open_dict

    from raygen.selection.sanity import too_close
    from raygen.steps.label import _frame_reader

    job = ctx.cfg.explore.jobs[0]
    post_model_devi(ctx, 0, job)
    plain = make_fp(ctx, 0, job)
    with open_dict(ctx.cfg):
        ctx.cfg.select.sanity.min_distance_ratio = 0.5
    record = make_fp(ctx, 0, job)
    atoms_at = _frame_reader(ctx, 0)
    filtered = [f for s in record["systems"].values() for f in s.get("filtered", [])]
    assert filtered, "some of the random frames have fused atoms"
    for f in filtered:
        assert too_close(atoms_at(f["md_task"], f["step"]), 0.5) is not None
        assert f["why"].startswith("atoms ")
    for t in fp_tasks(ctx, 0):
        assert too_close(atoms_at(t["md_task"], t["step"]), 0.5) is None
    for s, counts in record["systems"].items():
        before = plain["systems"][s]
        n_out = len(counts.get("filtered", []))
        assert counts["failed"] == before["failed"] + n_out
        assert counts["candidate"] == before["candidate"] - n_out
        assert counts["chosen"] <= before["chosen"]
