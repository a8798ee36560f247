"""Which keys a sweep sweeps, and the run directory each member gets."""

from raygen.cli.sweep import format_members, member_name, member_workdir, swept_keys


def test_swept_keys_are_the_overrides_with_several_values():
    argv = ["-m", "+exp=cu", "select.f_trust_lo=0.03,0.05", "explore.jobs.0.temps=[300,600]",
            "train.numb_steps=range(1000,3000,1000)", "label.fallback={a: 1, b: 2}"]
    assert swept_keys(argv) == ["select.f_trust_lo", "train.numb_steps"]


def test_member_directories():
    argv = ["-m", "+exp=cu", "select.f_trust_lo=0.03,0.05", "max_iter=2"]
    task = ["+exp=cu", "select.f_trust_lo=0.05", "max_iter=2"]
    assert member_name(task, ["select.f_trust_lo"]) == "f_trust_lo_0.05"
    assert member_workdir("/r/cu_run", argv, task) == "/r/cu_run/f_trust_lo_0.05"
    # the user made workdir differ per member: theirs is kept
    spelled = argv + ["workdir=sweep/lo_${select.f_trust_lo}"]
    assert member_workdir("sweep/lo_0.05", spelled, task) == "sweep/lo_0.05"
    # values that are no folder names are made safe
    assert member_name(["label=x/../y"], ["label"]) == "label_x___y"


def test_comparison_table():
    rows = [{"workdir": "/r/a", "select.f_trust_lo": "0.03", "iterations": 3, "labels": 40,
             "accurate_ratio": 0.991, "finished": True, "holdout_force_rmse": 0.031},
            {"workdir": "/r/b", "select.f_trust_lo": "0.05", "iterations": 2, "labels": 25,
             "accurate_ratio": None, "finished": False, "holdout_force_rmse": None}]
    lines = format_members(rows, ["select.f_trust_lo"]).splitlines()
    assert "99.10" in lines[2] and "0.0310" in lines[2] and "yes" in lines[2]
    assert lines[3].split()[:4] == ["0.05", "2", "25", "-"]
