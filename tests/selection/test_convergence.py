from raygen.selection.convergence import AccurateRatioConverged, IterationStats, stage_stopper


def test_accurate_ratio_rule():
    rule = AccurateRatioConverged(0.99)
    assert rule(IterationStats(0, 0, 990, 10, 0))
    assert not rule(IterationStats(0, 0, 989, 10, 1))
    assert not rule(IterationStats(0, 0, 0, 0, 0))


def test_stopper_off_when_threshold_null():
    assert not stage_stopper(None)(IterationStats(0, 0, 100, 0, 0))
    stopper = stage_stopper(0.9)
    assert stopper.which(IterationStats(0, 0, 95, 5, 0)) == "accurate ratio >= 0.9"
