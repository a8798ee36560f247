import math

import numpy as np

from raygen.selection.classify import ACCURATE, CANDIDATE, FAILED, classify
from raygen.selection.trust import TrustLevels

LV = TrustLevels(0.05, 0.20)


def test_force_window_is_half_open():
    f = np.array([0.0, 0.049999, 0.05, 0.1999, 0.20, 5.0])
    v = np.zeros_like(f)
    assert classify(f, v, LV).tolist() == [ACCURATE, ACCURATE, CANDIDATE, CANDIDATE, FAILED,
                                           FAILED]


def test_virial_window_makes_candidates_and_failures():
    lv = TrustLevels(0.05, 0.20, 0.01, 0.02)
    f = np.array([0.01, 0.01, 0.01, 0.10])
    v = np.array([0.001, 0.015, 0.03, 0.03])
    # inside the virial window -> candidate; above it -> failed; a frame in the
    # force window is a candidate even if its virial is above hi (DP-GEN's order)
    assert classify(f, v, lv).tolist() == [ACCURATE, CANDIDATE, FAILED, CANDIDATE]


def test_virial_off_by_default():
    assert math.isinf(LV.v_hi)
    assert classify(np.array([0.01]), np.array([1e6]), LV).tolist() == [ACCURATE]


def test_exploded_frame_is_failed_not_accurate():
    f = np.array([np.nan, np.inf])
    v = np.array([0.0, np.nan])
    assert classify(f, v, LV).tolist() == [FAILED, FAILED]
