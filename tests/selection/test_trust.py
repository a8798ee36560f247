import math

import pytest

from raygen.config.schema import ModelDeviJob, SelectConfig
from raygen.selection.trust import resolve_levels


def test_scalar_levels_apply_to_every_system():
    lv = resolve_levels(SelectConfig(f_trust_lo=0.05, f_trust_hi=0.2), None, 3)
    assert (lv.f_lo, lv.f_hi) == (0.05, 0.2) and math.isinf(lv.v_hi)


def test_per_system_levels():
    sel = SelectConfig(f_trust_lo=[0.05, 0.10], f_trust_hi=[0.2, 0.3])
    assert resolve_levels(sel, None, 1).f_lo == 0.10
    with pytest.raises(ValueError, match="select.f_trust_lo: has 2 per-system values"):
        resolve_levels(sel, None, 2)


def test_job_levels_override_select():
    job = ModelDeviJob(sys_idx=[0], temps=[100], f_trust_lo=0.08)
    lv = resolve_levels(SelectConfig(), job, 0)
    assert lv.f_lo == 0.08 and lv.f_hi == 0.20
