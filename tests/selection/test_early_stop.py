"""The early-stop rule (explore.early_stop) as plain functions, and what a stopped task's
frames count for in the selection."""

import json
import math

import numpy as np

from raygen.config.schema import SelectConfig
from raygen.report.summary import iteration_summary, selection_counts
from raygen.selection.early_stop import (
    STOPPED_FILE,
    StopRule,
    frames_not_run,
    last_trusted,
    stop_reason,
)
from raygen.selection.select import select_frames
from tests.selection.test_select import devi_table


def rule(**kw):
    return StopRule(f_hi=0.2, nsteps=1000, trj_freq=10, **kw)


def test_consecutive_failed_frames_stop_a_task():
    r = rule(failed_frames=3)
    assert r.planned_frames == 101 and r.chunk_steps == 100
    assert stop_reason([0.1, 0.3, 0.25], r) is None
    assert stop_reason([0.1, 0.3, 0.25, 0.1, 0.2], r) is None  # broken by a trusted one
    assert "3 consecutive frames" in stop_reason([0.1, 0.3, 0.25, 0.2], r)  # at hi: failed
    assert stop_reason([0.3, math.nan, math.inf], r) is not None  # not a number: failed
    assert stop_reason([0.3, 0.3], rule(failed_frames=1)) == \
        "1 consecutive frame at or above f_trust_hi 0.2 eV/Å"


def test_a_share_of_the_planned_frames_stops_a_task():
    r = rule(failed_ratio=0.1)  # 10.1 of 101 frames: the 11th failed frame stops it
    ten = [0.3, 0.1] * 10
    assert stop_reason(ten, r) is None
    assert "11 of 101 frames" in stop_reason(ten + [0.5], r)
    # after a restart, the failed frames before it still count
    assert stop_reason([0.5], r, failed_before=10) is not None
    assert stop_reason([0.5], rule(failed_frames=2), failed_before=10) is None


def test_the_last_trusted_frame_and_restart_seeds():
    assert last_trusted(np.array([0.1, 0.15, 0.3, 0.1, 0.4, 0.5]), 0.2) == 3
    assert last_trusted(np.array([0.3, math.nan]), 0.2) is None
    seeds = [rule(seed=5).restart_seed(k) for k in range(1, 50)]
    assert len(set(seeds)) == len(seeds) and min(seeds) > 0 and 5 not in seeds
    assert seeds == [rule(seed=5).restart_seed(k) for k in range(1, 50)]


def test_the_rule_round_trips_through_its_task_dir(tmp_path):
    r = rule(failed_frames=4, failed_ratio=0.5, check_every=3, restarts=2, seed=9)
    r.write(tmp_path)
    assert StopRule.read(tmp_path) == r
    assert StopRule.read(tmp_path / "nothing") is None
    assert frames_not_run(tmp_path) == 0
    (tmp_path / STOPPED_FILE).write_text(json.dumps({"frames_not_run": 17}))
    assert frames_not_run(tmp_path) == 17


def test_frames_a_stopped_task_did_not_run_count_as_failed():
    """Had the task run on, its ensemble would have given up on those frames too: the
    accurate ratio (and with it the label budget and the convergence rule) must not
    rise because the MD stopped."""
    rows = [("task.000.000000", 0, s, 0.01) for s in range(0, 80, 10)]  # 8 accurate
    rows += [("task.000.000001", 0, s, f) for s, f in zip((0, 10), (0.1, 0.3))]
    cfg = SelectConfig(fp_task_max=5, fp_accurate_threshold=0.7)
    alone = select_frames(devi_table(rows), cfg, None, 0)[0]
    assert alone.accurate_ratio == 0.8 and alone.budget == 0  # 0.8 >= 0.7: nothing labelled
    stopped = select_frames(devi_table(rows), cfg, None, 0, not_run={0: 10})[0]
    assert stopped.total == 20 and stopped.accurate_ratio == 0.4 and stopped.budget == 5
    assert stopped.counts == alone.counts  # the frames that ran, as they are
    record = {"systems": {"0": {**stopped.counts, "not_run": stopped.not_run}}}
    assert selection_counts(record) == {"accurate": 8, "candidate": 1, "failed": 11}
    summary = iteration_summary(0, 0, 0, record, {}, {}, {}, 2, False)
    assert summary["frames"] == 20 and summary["failed"] == 11
    assert summary["frames_not_run"] == 10 and summary["accurate_pct"] == 40.0
