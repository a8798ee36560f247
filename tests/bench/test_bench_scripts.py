"""The bench scripts keep working: each runs on a tiny size (no timing checked)."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_bench_select_runs_on_a_tiny_table():
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "bench_select.py"),
                           "--rows", "20000", "--systems", "5", "--tasks-per-system", "4",
                           "--write"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "select_frames:" in proc.stdout and "selection files:" in proc.stdout


def test_bench_select_runs_the_fps_pick_on_a_tiny_table():
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "bench_select.py"),
                           "--rows", "20000", "--systems", "5", "--tasks-per-system", "4",
                           "--pick", "fps"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "20000 candidates" in proc.stdout and "fps pick:" in proc.stdout
    assert "200 chosen" in proc.stdout  # 40 per system


def test_select_frames_on_many_systems_matches_a_per_system_selection():
    """The one-sort selection equals selecting each system's rows on their own."""
    sys.path.insert(0, str(ROOT / "bench"))
    from bench_select import synthetic

    from raygen.config.schema import SelectConfig
    from raygen.selection.select import select_frames

    table = synthetic(5000, 7, 3, seed=1)
    cfg = SelectConfig(fp_task_max=10)
    whole = select_frames(table, cfg, None, 3)
    sys_col = table.column("sys_idx").to_numpy()
    for s, sel in whole.items():
        alone = select_frames(table.filter(sys_col == s), cfg, None, 3)[s]
        assert sel.counts == alone.counts and list(sel.chosen) == list(alone.chosen)
        assert list(sel.candidate) == list(alone.candidate)


def test_bench_reducer_runs_and_its_three_methods_agree(tiny_models):
    """raw batched inference, the reducer and ``dp model-devi`` on the same frames
    (the script asserts their deviations agree before it prints)."""
    models = tiny_models[0].parent
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "bench_reducer.py"),
                           str(models), "--frames", "30"],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for name in ("raw batched DeepPot.eval", "raygen reducer", "dp model-devi, command"):
        assert name in proc.stdout


def test_reducer_streams_a_million_frames_in_bounded_memory():
    """1 M synthetic frames (801 MiB of coordinates) through the reducer's data path,
    in a fresh process: every frame gets its deviation row, and the peak memory after
    the last frame is within 32 MiB of the peak after the first 10 %."""
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "bench_reducer_stream.py"),
                           "--frames", "1000000"], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.startswith("1000000 frames of 32 atoms")
    marks = re.search(r"peak RSS MiB: 10 % (\d+), 50 % (\d+), 100 % (\d+)", proc.stdout)
    assert marks, proc.stdout
    at10, at50, at100 = map(int, marks.groups())
    assert at100 - at10 < 32, proc.stdout


def test_bench_explorer_runs_one_short_task_each_way(tiny_models, tmp_path):
    """One 20-step MD task as an `lmp` process and in a persistent Explorer."""
    import os

    env = {**os.environ, "HOME": str(tmp_path)}  # a Ray session of its own
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "bench_explorer.py"),
                           str(tiny_models[0]), "--tasks", "1", "--nsteps", "20"],
                          capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "lmp process per task" in proc.stdout and "persistent Explorer" in proc.stdout
