"""A record rolled back by hand, as DP-GEN users do: delete the last lines of
``record.raygen`` (DP-GEN's ``record.dpgen``) and run the same command to redo the run
from there.

A kill leaves outputs only in the phase of the step it interrupted; outputs of a
*later* phase of the resumed iteration, or of a later iteration, mean the record was cut
by hand. Then, as DP-GEN's ``make_*`` steps back up a directory they recreate
(``<dir>.bk000``): every later iteration and every later phase of the resumed one is set
aside, and so is the resumed phase's own folder when the record resumes at its make
step. Resuming at a run or post step keeps the phase's folder: its finished units (a
frozen model, an MD task, a label) are not redone — as DP-GEN's dispatcher skips tasks
that are tagged finished. The wall times and compute of the steps to redo are dropped
from the iteration's accounting, its summary removed. Nothing is deleted.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from raygen.atomic import atomic_write_json
from raygen.state.record import PHASES, STEP_NAMES, phase_steps, step_phase
from raygen.state.workdir import RunDir

_ITER = re.compile(r"^iter\.(\d{6})$")


def _phase_dir(rd: RunDir, ii: int, phase: str) -> Path:
    return {"train": rd.train, "model_devi": rd.model_devi, "fp": rd.fp}[phase](ii)


def _later_iterations(rd: RunDir, ii: int) -> list[Path]:
    out = []
    for p in rd.root.iterdir() if rd.root.exists() else []:
        m = _ITER.match(p.name)
        if m and p.is_dir() and int(m.group(1)) > ii:
            out.append(p)
    return sorted(out)


def _later_phases(rd: RunDir, ii: int, jj: int) -> list[Path]:
    after = PHASES[PHASES.index(step_phase(jj)) + 1:]
    return [d for d in (_phase_dir(rd, ii, p) for p in after)
            if d.is_dir() and any(d.iterdir())]


def cut_by_hand(rd: RunDir, ii: int, jj: int) -> bool:
    """Whether resuming at step ``jj`` of iteration ``ii`` finds outputs that a kill
    cannot have left (a later phase, a later iteration)."""
    return bool(_later_iterations(rd, ii) or _later_phases(rd, ii, jj))


def _backup(path: Path) -> Path:
    k = 0
    while path.with_name(f"{path.name}.bk{k:03d}").exists():
        k += 1
    dest = path.with_name(f"{path.name}.bk{k:03d}")
    path.rename(dest)
    return dest


def _drop_steps(path: Path, from_step: int) -> None:
    if not path.exists():
        return
    data = json.loads(path.read_text())
    keep = {k: v for k, v in data.items()
            if k not in STEP_NAMES or STEP_NAMES.index(k) < from_step}
    if keep != data:
        atomic_write_json(path, keep)


def roll_back_outputs(rd: RunDir, ii: int, jj: int) -> list[tuple[Path, Path]]:
    """Set aside what a record cut by hand at (``ii``, ``jj``) is to redo; the
    (folder, backup) pairs (none when the record was not cut by hand)."""
    if not cut_by_hand(rd, ii, jj):
        return []
    moved = [(p, _backup(p)) for p in _later_iterations(rd, ii)]
    moved += [(p, _backup(p)) for p in _later_phases(rd, ii, jj)]
    phase = step_phase(jj)
    own = _phase_dir(rd, ii, phase)
    if jj == phase_steps(phase)[0] and own.exists():
        moved.append((own, _backup(own)))
    _drop_steps(rd.timings(ii), jj)
    _drop_steps(rd.compute(ii), jj)
    rd.summary(ii).unlink(missing_ok=True)
    return moved
