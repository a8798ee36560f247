import numpy as np
import pyarrow as pa

from raygen.config.schema import SelectConfig
from raygen.science.frames import DEVIATION_SCHEMA
from raygen.selection.select import select_frames, write_selection_files


def devi_table(rows):
    """rows: (task_id, sys_idx, step, max_devi_f)."""
    cols = {"task_id": [r[0] for r in rows], "sys_idx": [r[1] for r in rows],
            "step": [r[2] for r in rows], "max_devi_f": [r[3] for r in rows]}
    for c in ("max_devi_v", "min_devi_v", "avg_devi_v", "min_devi_f", "avg_devi_f", "devi_e"):
        cols[c] = [0.0] * len(rows)
    return pa.table(cols).select(DEVIATION_SCHEMA.names).cast(DEVIATION_SCHEMA)


def test_per_system_counts_budget_and_files(tmp_path):
    rows = [("task.000.000000", 0, s, f) for s, f in
            zip(range(0, 100, 10), [0.01, 0.06, 0.07, 0.08, 0.3, 0.02, 0.09, 0.1, 0.5, 0.03])]
    rows += [("task.001.000000", 1, s, 0.01) for s in range(0, 50, 10)]
    sel = select_frames(devi_table(rows), SelectConfig(fp_task_max=3), None, iteration=4)
    s0, s1 = sel[0], sel[1]
    assert s0.counts == {"accurate": 3, "candidate": 5, "failed": 2}
    assert len(s0.chosen) == 3 and set(s0.chosen) <= set(s0.candidate)
    assert s1.counts == {"accurate": 5, "candidate": 0, "failed": 0} and s1.chosen == []

    write_selection_files(sel, lambda kind, s: tmp_path / f"{kind}.shuffled.{s:03d}.out",
                          lambda t: f"iter.000004/01.model_devi/{t}")
    lines = (tmp_path / "candidate.shuffled.000.out").read_text().splitlines()
    assert len(lines) == 5
    assert all(line.startswith("iter.000004/01.model_devi/task.000.000000 ") for line in lines)
    failed = (tmp_path / "rest_failed.shuffled.000.out").read_text().split()
    assert failed[1::2] == ["40", "80"]
    assert (tmp_path / "rest_accurate.shuffled.001.out").read_text().count("\n") == 5


def test_selection_is_reproducible_and_ignores_row_order():
    rng = np.random.default_rng(0)
    rows = [(f"task.000.{i % 4:06d}", 0, 10 * i, float(x))
            for i, x in enumerate(rng.uniform(0.05, 0.2, 40))]
    a = select_frames(devi_table(rows), SelectConfig(fp_task_max=5), None, 2)[0].chosen
    b = select_frames(devi_table(rows[::-1]), SelectConfig(fp_task_max=5), None, 2)[0].chosen
    c = select_frames(devi_table(rows), SelectConfig(fp_task_max=5), None, 3)[0].chosen
    assert a == b and a != c


def test_model_devi_skip_drops_early_frames():
    rows = [("t", 0, 0, 0.1), ("t", 0, 10, 0.1), ("t", 0, 20, 0.01)]
    sel = select_frames(devi_table(rows), SelectConfig(), None, 0, model_devi_skip=15)[0]
    assert sel.counts == {"accurate": 1, "candidate": 0, "failed": 0}


def test_accurate_ratio_throttles_labels():
    rows = [("t", 0, i, 0.01) for i in range(95)] + [("t", 0, 100 + i, 0.1) for i in range(5)]
    cfg = SelectConfig(fp_task_max=10, fp_accurate_threshold=0.99,
                       fp_accurate_soft_threshold=0.9)
    sel = select_frames(devi_table(rows), cfg, None, 0)[0]
    # accurate ratio 0.95 -> int(10 * (0.95 - 0.99) / (0.9 - 0.99)) = 4
    assert sel.budget == 4 and len(sel.chosen) == 4
