"""Critical-path compute of a step: the makespan of its tasks on its workers."""

import json

import pyarrow as pa
import pytest

from raygen.actors.evaluator import compute_s, with_compute_s
from raygen.state.overhead import makespan, pipeline_makespan, record, summary_fields


def test_makespan_is_the_greedy_schedule_of_the_pool():
    assert makespan([], 2) == 0.0
    assert makespan([10, 10, 10, 10], 2) == 20  # four members, two trainers
    assert makespan([10, 1, 1, 1], 2) == 10  # the long one sets it
    assert makespan([1, 1, 1, 10], 2) == 11  # dispatched in order: the long one comes last
    assert makespan([3, 3], 8) == 3  # more workers than tasks


def test_two_stages_overlapped_or_one_after_the_other():
    md, dev = [10, 10, 10, 10], [2, 2, 2, 2]
    # workers change hands: all MD (20 s on 2), then all deviations (4 s on 2)
    assert pipeline_makespan(md, 2, dev, 2, overlapped=False) == 24
    # streaming: each deviation right after its MD, hidden but for the last pair
    assert pipeline_makespan(md, 2, dev, 2, overlapped=True) == 22
    # one slow evaluator behind fast MD: it is the bottleneck
    assert pipeline_makespan([1] * 4, 4, [5] * 4, 1, overlapped=True) == 21
    # sharing the workers: the lane free at 10 takes the deviations while the other
    # still runs the last MD (10..14), then both share the rest (not 14 + 4 = 18)
    assert pipeline_makespan([10, 10, 4], 2, [2, 2, 2], 2, overlapped=False) == 16


def test_record_adds_up_across_a_restart_and_the_summary_reads_it(tmp_path):
    path = tmp_path / "compute.json"
    record(path, "run_train", 30.0, 2, 60.0, 2)
    record(path, "run_train", 10.0, 1, 10.0, 2)  # the resumed rest of the step
    record(path, "run_fp", 5.0, 4, 10.0, 2)
    data = json.loads(path.read_text())
    assert data["run_train"] == {"critical_s": 40.0, "tasks": 3, "task_s": 70.0, "lanes": 2}
    got = summary_fields(data, total_s=50.0)
    assert got["compute_s"] == 45.0
    assert got["overhead_s"] == pytest.approx(5.0) and got["overhead_pct"] == pytest.approx(10.0)


def test_deviation_tables_carry_their_compute_time():
    t = with_compute_s(pa.table({"x": [1, 2]}), start=0.0)
    assert compute_s(t) > 0 and t.column("x").to_pylist() == [1, 2]
    assert compute_s(pa.table({"x": [1]})) == 0.0


def test_a_members_compute_is_deepmd_kits_own_training_time(tmp_path):
    """Process start, neighbour statistics and freezing are overhead; after a restart
    only the last ``dp train`` in the appended log counts."""
    from raygen.actors.trainer import training_wall_time

    log = tmp_path / "train.log"
    assert training_wall_time(log) is None
    log.write_text("$ dp --tf train input.json\n[...] DEEPMD INFO    wall time: 12.500 s\n"
                   "$ dp --tf train input.json --restart model.ckpt\n"
                   "[...] DEEPMD INFO    finished training\n"
                   "[...] DEEPMD INFO    wall time: 7.250 s\n")
    assert training_wall_time(log) == 7.25
    log.write_text(log.read_text() + "$ dp --tf train input.json --restart model.ckpt\n"
                   "Traceback (most recent call last):\n")
    assert training_wall_time(log) is None  # the last training has no time of its own
