"""select.pick=fps: farthest-point sampling covers descriptor space where a uniform pick
repeats the configurations the MD spent its time in."""

import numpy as np

from raygen.config.schema import SelectConfig
from raygen.science.descriptors import DIM, projection, summarise
from raygen.selection.fps import farthest_points, pick_farthest
from raygen.selection.select import Frames, select_frames
from tests.selection.test_select import devi_table


def clusters(rng, sizes=(2000, 100, 10, 3), dim=8, spread=0.05):
    centres = rng.normal(0, 1, (len(sizes), dim)) * 5
    x = np.concatenate([c + rng.normal(0, spread, (n, dim)) for c, n in zip(centres, sizes)])
    label = np.repeat(np.arange(len(sizes)), sizes)
    return x.astype(np.float32), label


def test_farthest_points_reach_every_cluster_a_uniform_pick_misses():
    rng = np.random.default_rng(0)
    x, label = clusters(rng)
    chosen = farthest_points(x, 4, first=0)
    assert sorted(label[chosen]) == [0, 1, 2, 3]  # one per cluster, the rare ones too
    uniform = rng.choice(len(x), 4, replace=False)
    assert len(set(label[uniform])) < 4
    # the greedy rule itself: each pick is the farthest from those before it
    picked = farthest_points(x, 10, first=5)
    for k in range(1, 10):
        d = np.min(((x[:, None] - x[picked[:k]][None]) ** 2).sum(-1), axis=1)
        assert picked[k] == np.argmax(d)
    assert len(set(picked.tolist())) == 10 and farthest_points(x, 0, 0).size == 0
    assert len(farthest_points(x[:3], 10, 0)) == 3


def test_the_pick_starts_at_the_largest_deviation_and_keeps_the_rest():
    rng = np.random.default_rng(1)
    x, _ = clusters(rng, sizes=(50, 5))
    names = np.array(["task.000.000000"], dtype=object)
    frames = Frames(names, np.zeros(55, dtype=np.int32), np.arange(55) * 10)
    devi = np.linspace(0.06, 0.1, 55)
    chosen, shuffled = pick_farthest(frames, x, devi, 3, rng)
    assert list(chosen)[0] == ("task.000.000000", 540)  # largest deviation first
    assert len(shuffled) == 55 and set(shuffled) == set(frames)
    assert list(shuffled)[:3] == list(chosen)


def test_select_frames_picks_by_descriptor_per_system():
    rng = np.random.default_rng(2)
    x, label = clusters(rng, sizes=(40, 4))
    rows = [("task.000.000000", 0, 10 * i, 0.1 + 0.001 * i) for i in range(44)]
    vec = {10 * i: x[i] for i in range(44)}

    def vectors_of(frames):
        return np.stack([vec[int(s)] for s in frames.steps])

    cfg = SelectConfig(fp_task_max=2, pick="fps")
    sel = select_frames(devi_table(rows), cfg, None, 0, vectors_of=vectors_of)[0]
    picked = {label[int(s) // 10] for _, s in sel.chosen}
    assert picked == {0, 1}, "the small cluster gets a label of its own"
    again = select_frames(devi_table(rows), cfg, None, 0, vectors_of=vectors_of)[0]
    assert list(again.chosen) == list(sel.chosen)


def test_frame_vectors_keep_distances_and_pick_the_uncertain_atom():
    rng = np.random.default_rng(3)
    scale = rng.uniform(0.1, 3, (30, 1, 1))  # frames far apart and close together
    desc = (scale * rng.normal(0, 1, (1, 8, 200)) + rng.normal(0, 0.1, (30, 8, 200))
            ).astype(np.float32)
    vec = summarise(desc, "structure")
    assert vec.shape == (30, DIM) and vec.dtype == np.float32
    full = desc.mean(axis=1)
    d_full = np.linalg.norm(full[:, None] - full[None], axis=-1)[np.triu_indices(30, 1)]
    d_vec = np.linalg.norm(vec[:, None] - vec[None], axis=-1)[np.triu_indices(30, 1)]
    assert np.corrcoef(d_full, d_vec)[0, 1] > 0.9  # distances kept, roughly
    devi = np.zeros((30, 8))
    devi[:, 5] = 1.0
    np.testing.assert_allclose(summarise(desc, "atom", devi), desc[:, 5] @ projection(200),
                               rtol=1e-5)
    np.testing.assert_array_equal(projection(200), projection(200))
