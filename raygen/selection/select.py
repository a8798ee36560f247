"""One iteration's selection: classify every frame, pick candidates per system,
write DP-GEN's ``candidate/rest_accurate/rest_failed.shuffled.%03d.out`` files."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa

from raygen.atomic import atomic_write_text
from raygen.selection.budget import fp_task_budget, number_to_label, pick
from raygen.selection.classify import ACCURATE, CANDIDATE, FAILED, classify
from raygen.selection.trust import TrustLevels, resolve_levels

FrameRef = tuple[str, int]  # (MD task id, step)


@dataclass
class SystemSelection:
    sys_idx: int
    levels: TrustLevels
    accurate: list[FrameRef] = field(default_factory=list)
    candidate: list[FrameRef] = field(default_factory=list)  # shuffled
    failed: list[FrameRef] = field(default_factory=list)
    chosen: list[FrameRef] = field(default_factory=list)
    budget: int = 0

    @property
    def counts(self) -> dict[str, int]:
        return {"accurate": len(self.accurate), "candidate": len(self.candidate),
                "failed": len(self.failed)}

    @property
    def total(self) -> int:
        return len(self.accurate) + len(self.candidate) + len(self.failed)

    @property
    def accurate_ratio(self) -> float:
        return len(self.accurate) / self.total if self.total else 0.0


def select_frames(devi: pa.Table, select_cfg, job, iteration: int,
                  model_devi_skip: int = 0) -> dict[int, SystemSelection]:
    """Per-system selection from a deviation table (DEVIATION_SCHEMA rows).

    Frames with ``step < model_devi_skip`` are not considered. Picking is seeded
    by (``select.seed``, iteration, system), so a rerun picks the same frames.
    """
    out: dict[int, SystemSelection] = {}
    fp_task_max = select_cfg.fp_task_max
    if job is not None and getattr(job, "fp_task_max", None) is not None:
        fp_task_max = job.fp_task_max
    if devi.num_rows == 0:
        return out
    task = devi.column("task_id").to_numpy(zero_copy_only=False)
    sys_idx = devi.column("sys_idx").to_numpy()
    step = devi.column("step").to_numpy()
    f = devi.column("max_devi_f").to_numpy()
    v = devi.column("max_devi_v").to_numpy()
    keep = step >= model_devi_skip
    # Frames in a stable order (task, step), independent of arrival order.
    order = np.lexsort((step, task))
    for s in sorted(set(sys_idx[keep].tolist())):
        rows = [i for i in order if keep[i] and sys_idx[i] == s]
        levels = resolve_levels(select_cfg, job, s)
        kinds = classify(f[rows], v[rows], levels)
        sel = SystemSelection(s, levels)
        buckets = {ACCURATE: sel.accurate, CANDIDATE: sel.candidate, FAILED: sel.failed}
        for i, k in zip(rows, kinds):
            buckets[int(k)].append((str(task[i]), int(step[i])))
        sel.budget = fp_task_budget(sel.accurate_ratio, fp_task_max,
                                    select_cfg.fp_accurate_threshold,
                                    select_cfg.fp_accurate_soft_threshold)
        n = number_to_label(len(sel.candidate), sel.budget, select_cfg.fp_task_min)
        rng = np.random.default_rng([select_cfg.seed, iteration, s])
        sel.chosen, sel.candidate = pick(sel.candidate, n, rng)
        out[s] = sel
    return out


def selection_lines(frames: list[FrameRef], task_dir_of) -> str:
    """One ``<model_devi task path> <step>`` line per frame."""
    return "".join(f"{task_dir_of(t)} {st}\n" for t, st in frames)


def write_selection_files(selection: dict[int, SystemSelection], path_of, task_dir_of) -> None:
    """``path_of(kind, sys_idx)`` names each file; ``task_dir_of(task_id)`` each task."""
    for s, sel in selection.items():
        for kind, frames in (("candidate", sel.candidate), ("rest_accurate", sel.accurate),
                             ("rest_failed", sel.failed)):
            atomic_write_text(Path(path_of(kind, s)), selection_lines(frames, task_dir_of))
