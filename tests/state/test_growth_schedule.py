"""explore.grow in the run: an iteration's MD tasks are as long as the previous
iteration's selection made them, and stay so when asked again (resume, report)."""

import json
from pathlib import Path

from hydra import compose, initialize_config_module

from raygen.atomic import atomic_write_json
from raygen.config.schema import register_configs
from raygen.state.context import RunContext
from raygen.state.workdir import RunDir

register_configs()


def context(tmp_path, *overrides):
    with initialize_config_module(version_base=None, config_module="raygen.conf"):
        cfg = compose(config_name="config", overrides=[
            "+exp=cu_smoke", f"workdir={tmp_path / 'run'}", "progress=false", *overrides])
    return RunContext(cfg, RunDir(tmp_path / "run"), confs={0: [Path("a")], 1: [Path("b")]})


def selection(ctx, ii, systems):
    path = ctx.rundir.selection(ii)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(path, {"systems": systems, "tasks": []})


def test_md_grows_per_system_from_the_last_selection(tmp_path):
    ctx = context(tmp_path, "explore.grow.enabled=true", "explore.grow.max_nsteps=3000")
    jobs = ctx.cfg.explore.jobs
    assert {t.nsteps for t in ctx.md_tasks(0, jobs[0])} == {300}
    selection(ctx, 0, {"0": {"accurate": 96, "candidate": 4, "failed": 0},
                       "1": {"accurate": 50, "candidate": 40, "failed": 10}})
    by_sys = {t.sys_idx: t.nsteps for t in ctx.md_tasks(1, jobs[1])}
    assert by_sys == {0: 1200, 1: 300}
    # the record make_model_devi keeps is what later reads use
    atomic_write_json(ctx.rundir.md_growth(1), {"0": {"factor": 4, "ill_ratio": 0.04}})
    selection(ctx, 1, {"0": {"accurate": 99, "candidate": 1, "failed": 0},
                       "1": {"accurate": 95, "candidate": 5, "failed": 0}})
    by_sys = {t.sys_idx: t.nsteps for t in ctx.md_tasks(2, jobs[2])}
    assert by_sys == {0: 3000, 1: 1200}  # 300 x 16 capped at 3000; 300 x 4
    assert json.loads(ctx.rundir.md_growth(1).read_text())["0"]["factor"] == 4


def test_off_by_default(tmp_path):
    ctx = context(tmp_path)
    selection(ctx, 0, {"0": {"accurate": 100, "candidate": 0, "failed": 0}})
    assert {t.nsteps for t in ctx.md_tasks(1, ctx.cfg.explore.jobs[1])} == {300}
