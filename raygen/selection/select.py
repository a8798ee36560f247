"""One iteration's selection: classify every frame, pick candidates per system,
write DP-GEN's ``candidate/rest_accurate/rest_failed.shuffled.%03d.out`` files."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np
import pyarrow as pa

from raygen.atomic import atomic_write
from raygen.selection.adaptive import adaptive_classify
from raygen.selection.budget import (
    fp_task_budget,
    number_to_label,
    pick,
    pick_inverse_population,
)
from raygen.selection.classify import ACCURATE, CANDIDATE, FAILED, classify
from raygen.selection.fps import pick_farthest
from raygen.selection.trust import TrustLevels, resolve_levels

FrameRef = tuple[str, int]  # (MD task id, step)


class Frames(Sequence):
    """Frames as (MD task id, step) pairs, stored as numpy arrays: an index into the
    iteration's task ids and the step. Reads as a sequence of ``FrameRef`` tuples,
    but 10 M of them cost 12 bytes each, not a Python tuple each."""

    def __init__(self, names: np.ndarray, codes: np.ndarray, steps: np.ndarray) -> None:
        self.names, self.codes, self.steps = names, codes, steps

    @classmethod
    def empty(cls) -> Frames:
        return cls(np.array([], dtype=object), np.array([], dtype=np.int32),
                   np.array([], dtype=np.int64))

    def __len__(self) -> int:
        return len(self.codes)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return Frames(self.names, self.codes[i], self.steps[i])
        return str(self.names[self.codes[i]]), int(self.steps[i])

    def __iter__(self) -> Iterator[FrameRef]:
        names = self.names
        for c, st in zip(self.codes.tolist(), self.steps.tolist()):
            yield str(names[c]), st

    def __eq__(self, other) -> bool:
        return list(self) == list(other)

    def take(self, order: np.ndarray) -> Frames:
        return Frames(self.names, self.codes[order], self.steps[order])

    def concat(self, other: Frames) -> Frames:
        """These frames, then ``other``'s (of the same iteration's task ids)."""
        if not len(self):
            return other
        if not len(other):
            return self
        if self.names is not other.names and list(self.names) != list(other.names):
            raise ValueError("frames of different task-id tables")
        return Frames(self.names, np.concatenate([self.codes, other.codes]),
                      np.concatenate([self.steps, other.steps]))

    def lines(self, task_dir_of, chunk: int = 1_000_000) -> Iterator[str]:
        """``<task dir> <step>`` lines, ``chunk`` frames per string."""
        dirs = [str(task_dir_of(str(n))) for n in self.names]
        for a in range(0, len(self), chunk):
            yield "".join(f"{dirs[c]} {st}\n" for c, st in
                          zip(self.codes[a:a + chunk].tolist(), self.steps[a:a + chunk].tolist()))


@dataclass
class SystemSelection:
    sys_idx: int
    levels: TrustLevels
    accurate: Frames = field(default_factory=Frames.empty)
    candidate: Frames = field(default_factory=Frames.empty)  # shuffled
    failed: Frames = field(default_factory=Frames.empty)
    chosen: Frames = field(default_factory=Frames.empty)
    budget: int = 0
    not_run: int = 0  # frames of tasks that stopped early (explore.early_stop): failed
    filtered: dict = field(default_factory=dict)  # (task id, step) -> why (select.sanity)

    @property
    def counts(self) -> dict[str, int]:
        return {"accurate": len(self.accurate), "candidate": len(self.candidate),
                "failed": len(self.failed)}

    @property
    def total(self) -> int:
        """Frames recorded, and those tasks stopped early did not record (counted as
        failed: had they run, their ensemble would have given up on them too)."""
        return len(self.accurate) + len(self.candidate) + len(self.failed) + self.not_run

    @property
    def accurate_ratio(self) -> float:
        return len(self.accurate) / self.total if self.total else 0.0


def _task_ranks(column: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct task ids in sorted order, and each row's index into them
    (dictionary-encoded by Arrow: no Python string per row)."""
    import pyarrow.compute as pc

    enc = column.combine_chunks().dictionary_encode() if isinstance(
        column, pa.ChunkedArray) else column.dictionary_encode()
    names = enc.dictionary.to_numpy(zero_copy_only=False)
    order = np.argsort(names, kind="stable")
    rank = np.empty(len(order), dtype=np.int32)
    rank[order] = np.arange(len(order), dtype=np.int32)
    codes = rank[pc.fill_null(enc.indices, 0).to_numpy()]
    return names[order], codes


def select_frames(devi: pa.Table, select_cfg, job, iteration: int,
                  model_devi_skip: int = 0,
                  not_run: Optional[dict[int, int]] = None,
                  vectors_of: Optional[Callable[[Frames], np.ndarray]] = None,
                  ) -> dict[int, SystemSelection]:
    """Per-system selection from a deviation table (DEVIATION_SCHEMA rows).

    Frames with ``step < model_devi_skip`` are not considered. ``not_run``: per
    system, the frames its tasks did not record because they stopped early; they
    count as failed in the accurate ratio (and so in the label budget). ``vectors_of``:
    the descriptor-space vectors of some frames (``select.pick=fps``). Picking is seeded
    by (``select.seed``, iteration, system), so a rerun picks the same frames.
    One sort of all rows by (system, task, step), then each system is a slice:
    linear in the rows after the sort, whatever the number of systems.
    """
    out: dict[int, SystemSelection] = {}
    fp_task_max = select_cfg.fp_task_max
    if job is not None and getattr(job, "fp_task_max", None) is not None:
        fp_task_max = job.fp_task_max
    if devi.num_rows == 0:
        return out
    names, task = _task_ranks(devi.column("task_id"))
    sys_idx = devi.column("sys_idx").to_numpy()
    step = devi.column("step").to_numpy()
    keep = np.nonzero(step >= model_devi_skip)[0]
    # frames in a stable order (system, task, step), independent of arrival order
    order = keep[np.lexsort((step[keep], task[keep], sys_idx[keep]))]
    task, step, sys_sorted = task[order], step[order], sys_idx[order]
    f = devi.column("max_devi_f").to_numpy()[order]
    v = devi.column("max_devi_v").to_numpy()[order]
    starts = np.flatnonzero(np.r_[True, sys_sorted[1:] != sys_sorted[:-1]])
    ends = np.r_[starts[1:], len(order)]
    adaptive = getattr(select_cfg, "adapt_trust_lo", False)
    whole = None
    if adaptive and str(getattr(select_cfg, "adapt_scope", "system")) == "iteration":
        # dpgen2's adaptive-lower: one lower level over all frames of the iteration (the
        # upper levels are one for all systems there; checked by the config)
        top = resolve_levels(select_cfg, job, int(sys_sorted[0]))
        whole = adaptive_classify(f, v, task, step, top.f_hi, top.v_hi,
                                  select_cfg.numb_candi_f, select_cfg.perc_candi_f,
                                  select_cfg.numb_candi_v, select_cfg.perc_candi_v)
    for a, b in zip(starts.tolist(), ends.tolist()):
        s = int(sys_sorted[a])
        levels = resolve_levels(select_cfg, job, s)
        if whole is not None:
            kinds = whole[0][a:b]
            levels = TrustLevels(whole[1], levels.f_hi, whole[2], levels.v_hi)
        elif adaptive:  # DP-GEN's adaptive lower levels, per system
            kinds, f_lo, v_lo = adaptive_classify(
                f[a:b], v[a:b], task[a:b], step[a:b], levels.f_hi, levels.v_hi,
                select_cfg.numb_candi_f, select_cfg.perc_candi_f,
                select_cfg.numb_candi_v, select_cfg.perc_candi_v)
            levels = TrustLevels(f_lo, levels.f_hi, v_lo, levels.v_hi)
        else:
            kinds = classify(f[a:b], v[a:b], levels)
        sel = SystemSelection(s, levels, not_run=int((not_run or {}).get(s, 0)))
        for kind, attr in ((ACCURATE, "accurate"), (CANDIDATE, "candidate"),
                           (FAILED, "failed")):
            idx = a + np.flatnonzero(kinds == kind)
            setattr(sel, attr, Frames(names, task[idx], step[idx]))
            if kind == CANDIDATE:
                cand_f = f[idx]
        sel.budget = fp_task_budget(sel.accurate_ratio, fp_task_max,
                                    select_cfg.fp_accurate_threshold,
                                    select_cfg.fp_accurate_soft_threshold)
        n = number_to_label(len(sel.candidate), sel.budget, select_cfg.fp_task_min)
        rng = np.random.default_rng([select_cfg.seed, iteration, s])
        rule = str(getattr(select_cfg, "pick", "uniform"))
        if rule == "inv_pop_f":
            sel.chosen, sel.candidate = pick_inverse_population(
                sel.candidate, cand_f, levels.f_lo, levels.f_hi, n, rng,
                int(select_cfg.pick_nhist))
        elif rule == "fps":
            if vectors_of is None:
                raise ValueError("select.pick=fps: no descriptor vectors for the candidates")
            vectors = vectors_of(sel.candidate) if n else np.empty((len(sel.candidate), 0))
            sel.chosen, sel.candidate = pick_farthest(sel.candidate, vectors, cand_f, n, rng)
        else:
            sel.chosen, sel.candidate = pick(sel.candidate, n, rng)
        out[s] = sel
    return out


def write_selection_files(selection: dict[int, SystemSelection], path_of, task_dir_of) -> None:
    """``path_of(kind, sys_idx)`` names each file; ``task_dir_of(task_id)`` each task.
    Written a million lines at a time (memory stays bounded however many frames)."""
    for s, sel in selection.items():
        for kind, frames in (("candidate", sel.candidate), ("rest_accurate", sel.accurate),
                             ("rest_failed", sel.failed)):
            def write(tmp: str, frames=frames) -> None:
                with open(tmp, "w") as fh:
                    for text in frames.lines(task_dir_of):
                        fh.write(text)

            atomic_write(Path(path_of(kind, s)), write)


def apply_sanity(sel: SystemSelection, judge) -> None:
    """Keep ``sel``'s label count with frames ``judge`` (a frame ref -> the reason it is
    not fit to label, or None) passes: candidates are walked in picking order, the unfit
    ones become failed (``sel.filtered`` says why), the next candidates take their place
    (:func:`raygen.selection.sanity.sane_pick`)."""
    from raygen.selection.sanity import sane_pick

    n = len(sel.chosen)
    if n == 0:
        return
    taken, rejected = sane_pick(sel.candidate, n, judge)
    if not rejected:
        return
    bad = np.asarray(sorted(rejected), dtype=np.int64)
    rest = np.setdiff1d(np.arange(len(sel.candidate)), np.concatenate([taken, bad]))
    sel.filtered = {sel.candidate[int(k)]: why for k, why in rejected.items()}
    sel.failed = sel.failed.concat(sel.candidate.take(bad))
    sel.chosen = sel.candidate.take(taken)
    sel.candidate = sel.candidate.take(np.concatenate([taken, rest]).astype(np.int64))
