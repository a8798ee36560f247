"""The what-if of trust levels on stored deviation tables: the run's own levels
reproduce the labels the run sent; a wider window sends more."""

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
from hydra import compose, initialize_config_module
from omegaconf import OmegaConf

from raygen.config.schema import register_configs
from raygen.report.whatif import main, whatif
from raygen.science.deviation import write_model_devi
from raygen.science.frames import frames_table
from raygen.state.context import RunContext
from raygen.state.workdir import RunDir
from raygen.steps.explore import post_model_devi
from raygen.steps.label import make_fp

register_configs()


def synthetic_run(root: Path) -> RunContext:
    with initialize_config_module(version_base=None, config_module="raygen.conf"):
        cfg = compose(config_name="config", overrides=["+exp=cu_smoke", f"workdir={root}"])
    rd = RunDir(root)
    ctx = RunContext(cfg, rd, confs={0: [Path("a"), Path("b")], 1: [Path("a"), Path("b")]})
    rng = np.random.default_rng(7)
    job = cfg.explore.jobs[0]
    for t in ctx.md_tasks(0, job):
        rd.md_task(0, t.task_id).mkdir(parents=True)
        n = 40
        steps = np.arange(n) * 10
        pq.write_table(frames_table(t.task_id, t.sys_idx, steps,
                                    np.tile(np.eye(3) * 3.6, (n, 1, 1)),
                                    rng.uniform(0, 3.6, (n, 4, 3)), np.zeros(4, int)),
                       rd.traj(0, t.task_id))
        write_model_devi(rd.model_devi_out(0, t.task_id), steps,
                         np.exp(rng.uniform(np.log(0.005), np.log(0.5), (n, 7))))
    post_model_devi(ctx, 0, job)
    rd.config.write_text(OmegaConf.to_yaml(cfg, resolve=True))
    rd.summary(0).write_text(json.dumps({"job": 0}))
    return ctx


def test_own_levels_reproduce_the_run_and_wider_windows_label_more(tmp_path):
    ctx = synthetic_run(tmp_path / "run")
    record = make_fp(ctx, 0, ctx.cfg.explore.jobs[0])
    sent = len(record["tasks"])
    lo, hi = ctx.cfg.select.f_trust_lo, ctx.cfg.select.f_trust_hi
    rows = whatif(tmp_path / "run", [lo, 0.01], [hi, 0.45])
    own = next(r for r in rows if (r["f_trust_lo"], r["f_trust_hi"]) == (lo, hi))
    systems = record["systems"].values()
    assert own["labels"] == sent
    # the run's own counts, class by class; candidates include the chosen ones
    for kind in ("accurate", "candidate", "failed"):
        assert own[kind] == sum(s[kind] for s in systems), kind
    assert own["candidate"] >= own["labels"]
    n_frames = pq.read_table(ctx.rundir.deviations(0)).num_rows
    for r in rows:  # the classes partition the frames, at every level
        assert r["accurate"] + r["candidate"] + r["failed"] == r["frames"] == n_frames
    wide = next(r for r in rows if (r["f_trust_lo"], r["f_trust_hi"]) == (0.01, 0.45))
    assert wide["candidate"] > own["candidate"] and wide["accurate"] < own["accurate"]
    assert len(rows) == 4  # every lo < hi pair


def test_command_prints_the_table_and_plots(tmp_path, capsys):
    synthetic_run(tmp_path / "run")
    png = tmp_path / "whatif.png"
    assert main([str(tmp_path / "run"), "--f-trust-lo", "0.03", "0.05",
                 "--f-trust-hi", "0.2", "--plot", str(png)]) == 0
    out = capsys.readouterr().out
    assert "lo=0.03 hi=0.2:" in out and "lo=0.05 hi=0.2:" in out
    assert png.stat().st_size > 1000 and png.read_bytes()[:4] == b"\x89PNG"
    assert main([str(tmp_path / "nothing"), "--f-trust-lo", "0.03",
                 "--f-trust-hi", "0.2"]) == 2
