"""explore.grow: ArcaNN's rule for the next iteration's MD length, as plain functions."""

from raygen.selection.growth import grown_nsteps, ill_described_ratio, multiplier, next_factors


def test_arcann_factors():
    assert ill_described_ratio({"accurate": 95, "candidate": 3, "failed": 2}) == 0.05
    assert ill_described_ratio({"accurate": 90, "candidate": 3, "failed": 2, "not_run": 5}) == 0.1
    assert ill_described_ratio({"accurate": 0, "candidate": 0, "failed": 0}) is None
    assert [multiplier(r, 0.10, 0.20) for r in (0.0, 0.0999, 0.10, 0.1999, 0.20, 0.9)] == \
        [4, 4, 2, 2, 1, 1]
    assert multiplier(None, 0.1, 0.2) == 1


def test_factors_grow_per_system_never_shrink_and_stop_at_the_cap():
    systems = {"0": {"accurate": 97, "candidate": 3, "failed": 0},   # 3 %: x4
               "1": {"accurate": 85, "candidate": 10, "failed": 5},  # 15 %: x2
               "2": {"accurate": 10, "candidate": 60, "failed": 30}}  # 90 %: as before
    first = next_factors({}, systems, 0.10, 0.20, 10**6)
    assert {s: g["factor"] for s, g in first.items()} == {0: 4, 1: 2, 2: 1}
    assert first[1]["ill_ratio"] == 0.15
    second = next_factors({s: g["factor"] for s, g in first.items()}, systems, 0.10, 0.20, 10**6)
    assert {s: g["factor"] for s, g in second.items()} == {0: 16, 1: 4, 2: 1}
    worse = {"0": {"accurate": 1, "candidate": 50, "failed": 49}}
    kept = next_factors({0: 16, 3: 2}, worse, 0.10, 0.20, 10**6)
    assert kept[0]["factor"] == 16 and kept[3] == {"factor": 2, "ill_ratio": None}
    assert next_factors({0: 16}, systems, 0.10, 0.20, 20)[0]["factor"] == 20


def test_grown_length_respects_the_cap_and_the_frame_interval():
    assert grown_nsteps(1000, 4, 10**6, 10) == 4000
    assert grown_nsteps(1000, 16, 5005, 10) == 5000  # whole trj_freq intervals
    assert grown_nsteps(1000, 4, 500, 10) == 1000  # never below the job's own
