"""DP-GEN's adaptive lower trust level: the candidates are the frames of largest
deviation below the upper level; checked by its rules and against DP-GEN 0.14's own
function on the same model_devi.out files."""

import json
import math
import subprocess
import textwrap

import numpy as np
import pyarrow as pa
import pytest

from raygen.config.schema import SelectConfig
from raygen.science.deviation import read_model_devi, write_model_devi
from raygen.science.frames import DEVIATION_SCHEMA
from raygen.selection.adaptive import adaptive_classify
from raygen.selection.classify import ACCURATE, CANDIDATE, FAILED
from raygen.selection.select import select_frames


def classify(f, v=None, **kw):
    f = np.asarray(f, float)
    v = np.zeros_like(f) if v is None else np.asarray(v, float)
    n = len(f)
    args = dict(f_hi=0.3, v_hi=math.inf, numb_candi_f=2, perc_candi_f=0.0, numb_candi_v=0,
                perc_candi_v=0.0)
    args.update(kw)
    return adaptive_classify(f, v, np.zeros(n, int), np.arange(n), **args)


def test_the_largest_deviations_below_hi_are_the_candidates():
    kinds, f_lo, v_lo = classify([0.01, 0.2, 0.3, 0.31, 0.05, 0.25])
    # 0.3 is not failed (strictly greater fails), 0.31 is
    assert list(kinds) == [ACCURATE, ACCURATE, CANDIDATE, FAILED, ACCURATE, CANDIDATE]
    assert f_lo == 0.25 and v_lo == math.inf


def test_numbers_from_percentages_and_the_union_with_virial():
    f = np.linspace(0.0, 0.2, 101)
    kinds, f_lo, _ = classify(f, numb_candi_f=1, perc_candi_f=10.0)  # 10 % of 101 -> 10
    assert (kinds == CANDIDATE).sum() == 10 and f_lo == pytest.approx(f[-10])
    v = np.zeros(101)
    v[3] = 5.0  # largest virial deviation, small force deviation
    kinds, _, v_lo = classify(f, v, numb_candi_f=1, numb_candi_v=1, v_hi=10.0)
    assert kinds[3] == CANDIDATE and kinds[100] == CANDIDATE and (kinds == CANDIDATE).sum() == 2
    assert v_lo == 5.0
    kinds, f_lo, _ = classify(f, numb_candi_f=0)
    assert (kinds == CANDIDATE).sum() == 0 and f_lo == 0.3


def test_not_a_number_is_failed_and_never_the_level():
    kinds, f_lo, _ = classify([0.1, float("nan"), 0.2, 0.05])
    assert kinds[1] == FAILED and f_lo == 0.1 and np.isfinite(f_lo)


def force_table(rows):
    """A deviation table from (task_id, sys_idx, step, max_devi_f) rows."""
    cols = {"task_id": [r[0] for r in rows], "sys_idx": [r[1] for r in rows],
            "step": [r[2] for r in rows], "max_devi_f": [r[3] for r in rows]}
    for c in ("max_devi_v", "min_devi_v", "avg_devi_v", "min_devi_f", "avg_devi_f", "devi_e"):
        cols[c] = [0.0] * len(rows)
    return pa.table(cols).select(DEVIATION_SCHEMA.names).cast(DEVIATION_SCHEMA)


def test_select_frames_uses_and_records_the_adapted_levels():
    rows = [(f"task.{s:03d}.000000", s, 10 * k, d)
            for s, devs in ((0, [0.01, 0.02, 0.15, 0.18, 0.5]), (1, [0.03, 0.04, 0.05]))
            for k, d in enumerate(devs)]
    table = force_table(rows)
    cfg = SelectConfig(adapt_trust_lo=True, numb_candi_f=2, f_trust_lo=0.9, f_trust_hi=0.3)
    sel = select_frames(table, cfg, None, 0)
    assert sel[0].counts == {"accurate": 2, "candidate": 2, "failed": 1}
    assert sel[0].levels.f_lo == 0.15 and sel[1].levels.f_lo == 0.04  # per system


DPGEN_CALL = """
import json, sys
from dpgen.generator.run import _select_by_model_devi_adaptive_trust_low as select
tasks, f_hi, nf, pf, v_hi, nv, pv = json.loads(sys.argv[1])
accur, candi, failed, counter, f_lo, v_lo = select(tasks, f_hi, nf, pf, v_hi, nv, pv)
print(json.dumps({"accurate": sorted(map(list, accur)), "candidate": sorted(map(list, candi)),
                  "failed": sorted(map(list, failed)), "f_lo": f_lo, "v_lo": v_lo}))
"""


@pytest.mark.slow
@pytest.mark.parametrize("case", [
    dict(f_hi=0.3, nf=10, pf=0.0, v_hi=1e10, nv=0, pv=0.0),
    dict(f_hi=0.25, nf=3, pf=20.0, v_hi=0.5, nv=4, pv=0.0),
    dict(f_hi=0.4, nf=0, pf=5.0, v_hi=0.3, nv=0, pv=12.5),
])
def test_same_candidates_and_levels_as_dpgen(tmp_path, dpgen_python, case):
    rng = np.random.default_rng(sum(int(v * 10) for v in case.values()) % 1000)
    tasks = []
    rows = []
    for t in range(3):  # three MD tasks of one system, with ties across tasks
        name = f"task.000.{t:06d}"
        d = tmp_path / name
        d.mkdir()
        steps = np.arange(40) * 10
        devi = np.zeros((40, 7))
        devi[:, 3:6] = np.round(rng.lognormal(np.log(0.12), 0.6, (40, 3)), 3)  # f
        devi[:, 0:3] = np.round(rng.lognormal(np.log(0.1), 0.8, (40, 3)), 3)  # v
        devi[:, 6] = 0.0
        write_model_devi(d / "model_devi.out", steps, devi)
        tasks.append(str(d))
        st, dv = read_model_devi(d / "model_devi.out")
        rows += [(name, 0, int(s), *map(float, r)) for s, r in zip(st, dv)]
    args = [tasks, case["f_hi"], case["nf"], case["pf"], case["v_hi"], case["nv"], case["pv"]]
    proc = subprocess.run([str(dpgen_python), "-c", textwrap.dedent(DPGEN_CALL),
                           json.dumps(args)], capture_output=True, text=True, timeout=300,
                          cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    ref = json.loads(proc.stdout.strip().splitlines()[-1])

    names = ["max_devi_v", "min_devi_v", "avg_devi_v", "max_devi_f", "min_devi_f",
             "avg_devi_f", "devi_e"]
    cols = {"task_id": [r[0] for r in rows], "sys_idx": [r[1] for r in rows],
            "step": [r[2] for r in rows]}
    for k, c in enumerate(names):
        cols[c] = [r[3 + k] for r in rows]
    table = pa.table(cols).select(DEVIATION_SCHEMA.names).cast(DEVIATION_SCHEMA)
    cfg = SelectConfig(adapt_trust_lo=True, f_trust_hi=case["f_hi"],
                       v_trust_hi=None if case["v_hi"] >= 1e10 else case["v_hi"],
                       numb_candi_f=case["nf"], perc_candi_f=case["pf"],
                       numb_candi_v=case["nv"], perc_candi_v=case["pv"], fp_task_max=1000)
    sel = select_frames(table, cfg, None, 0)[0]

    def as_set(frames):
        return sorted([str(tmp_path / t), s] for t, s in frames)

    assert as_set(sel.candidate) == ref["candidate"]
    assert as_set(sel.accurate) == ref["accurate"]
    assert as_set(sel.failed) == ref["failed"]
    assert sel.levels.f_lo == pytest.approx(ref["f_lo"])
    assert sel.levels.v_lo == pytest.approx(ref["v_lo"] if ref["v_lo"] < 1e10 else math.inf)


def test_the_iteration_table_shows_the_adapted_level_of_each_system():
    from raygen.report.summary import format_table

    s = {"iteration": 0, "systems": {"0": {"f_trust": [0.0731, 0.3], "trust_adapted": True},
                                     "1": {"f_trust": [0.1, 0.3], "trust_adapted": True}}}
    assert format_table([s]).splitlines()[-1].endswith("f_lo 0:0.0731 1:0.1")
    assert "f_lo" not in format_table([{"iteration": 0, "systems": {"0": {"f_trust": [0.05,
                                                                                     0.2]}}}])


def test_over_the_whole_iteration_one_level_for_all_systems():
    """dpgen2's adaptive-lower: the candidates are the largest deviations of the
    iteration, wherever they are; one level for every system."""
    rows = [(f"task.{s:03d}.000000", s, 10 * k, d)
            for s, devs in ((0, [0.01, 0.02, 0.15, 0.18, 0.5]), (1, [0.03, 0.04, 0.05]))
            for k, d in enumerate(devs)]
    table = force_table(rows)
    cfg = SelectConfig(adapt_trust_lo=True, adapt_scope="iteration", numb_candi_f=3,
                       f_trust_hi=0.3)
    sel = select_frames(table, cfg, None, 0)
    assert sel[0].levels.f_lo == sel[1].levels.f_lo == 0.05
    assert sel[0].counts["candidate"] == 2 and sel[1].counts["candidate"] == 1
    assert sel[0].counts["failed"] == 1


def test_iteration_scope_needs_one_upper_level():
    from hydra import compose, initialize_config_module

    from raygen.config.schema import register_configs
    from raygen.validate import ConfigError, validate

    register_configs()
    with initialize_config_module(version_base=None, config_module="raygen.conf"):
        cfg = compose(config_name="config", overrides=[
            "+exp=cu_smoke", "select.adapt_trust_lo=true", "select.adapt_scope=iteration",
            "select.f_trust_hi=[0.3,0.4]"])
    with pytest.raises(ConfigError, match="give one upper level"):
        validate(cfg)
