"""select.sanity: frames not fit to label (fused atoms, a collapsed or exploded cell, a
sheared or flattened box) are set aside as failed and the next candidates labelled."""

import numpy as np
from ase import Atoms
from ase.build import bulk

from raygen.config.schema import SanityConfig
from raygen.selection.sanity import (
    checks,
    elongated,
    reason,
    sane_pick,
    skewed,
    too_close,
    volume_off,
)
from raygen.selection.select import Frames, SystemSelection, apply_sanity
from raygen.selection.trust import TrustLevels


def test_each_check_on_a_good_and_a_bad_cell():
    good = bulk("Cu", "fcc", a=3.61, cubic=True)
    assert too_close(good, 0.5) is None and too_close(good, 0.9) is None
    assert too_close(good, 1.0) is not None  # 2.55 Å neighbours, 2 x 1.32 Å radii
    fused = good.copy()
    fused.positions[1] = fused.positions[0] + [0.5, 0, 0]
    assert "atoms 0 and 1 are 0.50 Å apart" in too_close(fused, 0.5)
    # across the periodic boundary too
    edge = good.copy()
    edge.positions[1] = [3.5, 0, 0]
    assert too_close(edge, 0.5) is not None

    start_v = good.get_volume() / len(good)
    blown = good.copy()
    blown.set_cell(good.cell * 2, scale_atoms=True)  # 8x the volume
    assert volume_off(good, start_v, 3) is None and "more than 3x" in volume_off(blown, start_v, 3)
    crushed = good.copy()
    crushed.set_cell(good.cell * 0.6, scale_atoms=True)
    assert volume_off(crushed, start_v, 3) is not None

    sheared = Atoms("Cu", cell=[[3, 0, 0], [6, 3, 0], [0, 0, 3]], pbc=True)
    assert skewed(good, 60) is None and "tilted" in skewed(sheared, 60)
    flat = Atoms("Cu", cell=[[20, 0, 0], [0, 3, 0], [0, 0, 3]], pbc=True)
    assert elongated(good, 5) is None and "differ more than 5x" in elongated(flat, 5)

    tests = checks(SanityConfig(min_distance_ratio=0.5, volume_ratio=3))
    assert len(tests) == 2 and checks(SanityConfig()) == []
    assert reason(good, good, tests) is None
    assert reason(blown, good, tests).startswith("volume")


def test_unfit_frames_become_failed_and_the_next_candidates_are_labelled():
    names = np.array(["task.000.000000"], dtype=object)

    def frames(steps):
        return Frames(names, np.zeros(len(steps), dtype=np.int32), np.asarray(steps))

    sel = SystemSelection(0, TrustLevels(0.05, 0.2))
    sel.candidate = frames([50, 10, 40, 20, 30, 60])  # picking order: the chosen first
    sel.chosen = sel.candidate[:3]
    sel.failed = frames([70])
    bad = {10, 20}
    apply_sanity(sel, lambda ref: "fused" if ref[1] in bad else None)
    assert [st for _, st in sel.chosen] == [50, 40, 30]
    assert [st for _, st in sel.candidate] == [50, 40, 30, 60]
    assert sorted(st for _, st in sel.failed) == [10, 20, 70]
    assert sel.filtered == {("task.000.000000", 10): "fused", ("task.000.000000", 20): "fused"}
    assert sel.counts == {"accurate": 0, "candidate": 4, "failed": 3}
    # frames after the last one taken are not judged
    taken, rejected = sane_pick(frames([1, 2, 3, 4]), 2, lambda ref: None)
    assert list(taken) == [0, 1] and rejected == {}
