"""Orchestration overhead: an iteration's wall time minus the compute on its
critical path.

Each step that runs work on a pool of workers records, per task, the seconds the
worker spent computing it (measured inside the worker: a ``dp train``, an MD run, a
deviation evaluation, a labelling calculation) and the number of workers. The
critical-path compute of the step is the makespan of the same tasks, in the same
order, on the same number of workers with no time between them (the first free
worker takes the next task, as Ray's actor pool and task queue do); whatever the
step's wall time has beyond it (actor and process starts, scheduling, waiting,
bookkeeping, file writes) is overhead. ``iter.*/compute.json`` holds it per step;
the iteration summary adds ``compute_s``, ``overhead_s`` and ``overhead_pct``.
"""

from __future__ import annotations

import heapq
import json
from collections.abc import Sequence
from pathlib import Path

from raygen.atomic import atomic_write_json


def makespan(durations: Sequence[float], lanes: int) -> float:
    """Finish time of ``durations`` dispatched in order, each to the first free of
    ``lanes`` workers, with no gaps."""
    if not durations:
        return 0.0
    free = [0.0] * max(1, min(int(lanes), len(durations)))
    for d in durations:
        heapq.heappush(free, heapq.heappop(free) + float(d))
    return max(free)


def pipeline_makespan(first: Sequence[float], first_lanes: int, second: Sequence[float],
                      second_lanes: int, overlapped: bool) -> float:
    """Two stages of the same tasks (MD, then each trajectory's deviation).

    Overlapped (separate workers, streaming): the second stage of a task starts when
    its first stage ends and a second-stage worker is free. Otherwise the workers
    change hands: a first-stage worker with nothing left to run gives its place to a
    second-stage one (at most ``second_lanes`` of them, the earliest free places
    first), which takes the finished tasks in the order they finished."""
    if not first:
        return 0.0
    lanes1 = [0.0] * max(1, min(int(first_lanes), len(first)))
    ends = []
    for d in first:
        t = heapq.heappop(lanes1) + float(d)
        heapq.heappush(lanes1, t)
        ends.append(t)
    if overlapped:
        lanes2 = [0.0] * max(1, int(second_lanes))
    else:  # each place is handed over when its first-stage worker has no more work
        places = sorted(lanes1) + [max(lanes1)] * max(0, int(second_lanes) - len(lanes1))
        lanes2 = places[:max(1, int(second_lanes))]
        heapq.heapify(lanes2)
    finish = 0.0
    for end, d in sorted(zip(ends, second)):
        start = max(end, heapq.heappop(lanes2))
        heapq.heappush(lanes2, start + float(d))
        finish = max(finish, start + float(d))
    return finish


def record(path: Path, step: str, critical_s: float, tasks: int, task_s: float,
           lanes: int) -> None:
    """Add a step's critical-path compute to ``compute.json`` (added up, so a resumed
    step counts the work done before and after the restart)."""
    data = json.loads(path.read_text()) if path.exists() else {}
    prev = data.get(step, {"critical_s": 0.0, "tasks": 0, "task_s": 0.0})
    data[step] = {"critical_s": prev["critical_s"] + float(critical_s),
                  "tasks": prev["tasks"] + int(tasks),
                  "task_s": prev["task_s"] + float(task_s), "lanes": int(lanes)}
    atomic_write_json(path, data)


def summary_fields(compute: dict, total_s: float) -> dict:
    """``compute_s`` (critical path), ``overhead_s`` and ``overhead_pct`` of an
    iteration of wall time ``total_s``."""
    compute_s = sum(v["critical_s"] for v in compute.values())
    over = max(0.0, total_s - compute_s)
    return {"compute_s": compute_s, "overhead_s": over,
            "overhead_pct": 100.0 * over / total_s if total_s > 0 else 0.0}
