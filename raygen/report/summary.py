"""Per-iteration summary: counts, labels and the wall time of each phase."""

from __future__ import annotations

import json
from collections.abc import Iterable

from raygen.state import overhead
from raygen.state.record import phase_seconds
from raygen.state.workdir import RunDir

COLUMNS = [
    ("iter", "{:>4d}", "iteration"), ("job", "{:>3d}", "job"), ("stage", "{:>5d}", "stage"),
    ("md", "{:>5d}", "md_tasks"), ("frames", "{:>7d}", "frames"),
    ("acc%", "{:>6.2f}", "accurate_pct"), ("cand%", "{:>6.2f}", "candidate_pct"),
    ("fail%", "{:>6.2f}", "failed_pct"), ("labels", "{:>6d}", "labels_added"),
    ("train_s", "{:>7.1f}", "train_s"), ("explore_s", "{:>9.1f}", "explore_s"),
    ("label_s", "{:>7.1f}", "label_s"), ("iter_s", "{:>7.1f}", "total_s"),
    ("ovh%", "{:>5.1f}", "overhead_pct"),
]


def iteration_summary(ii: int, job_idx: int, stage: int, selection: dict, fp: dict,
                      timings: dict, phase_s: dict[str, float], md_tasks: int,
                      converged: bool) -> dict:
    """The record kept in ``iter.*/summary.json``; ``phase_s`` is the wall time of
    each phase (train, model_devi, fp), ``timings`` that of each step."""
    systems = selection.get("systems", {})
    counts = selection_counts(selection)
    acc, cand, fail = counts["accurate"], counts["candidate"], counts["failed"]
    not_run = sum(s.get("not_run", 0) for s in systems.values())
    total = acc + cand + fail
    pct = (lambda n: 100.0 * n / total) if total else (lambda n: 0.0)
    train_s, explore_s, label_s = (phase_s.get(p, 0.0) for p in ("train", "model_devi", "fp"))
    return {
        "iteration": ii, "job": job_idx, "stage": stage, "md_tasks": md_tasks,
        "frames": total, "accurate": acc, "candidate": cand, "failed": fail,
        "frames_not_run": not_run,
        "accurate_ratio": acc / total if total else 0.0,
        "accurate_pct": pct(acc), "candidate_pct": pct(cand), "failed_pct": pct(fail),
        "labels_added": fp.get("labels_added", 0), "label_status": fp.get("label_status", {}),
        "labels_retried": fp.get("retried", 0),
        "train_s": train_s, "explore_s": explore_s, "label_s": label_s,
        "total_s": train_s + explore_s + label_s, "stage_converged": converged,
        "systems": systems, "timings": timings,
    }


def selection_counts(selection: dict) -> dict[str, int]:
    """Accurate / candidate / failed frames of an iteration's ``selection.json`` (failed:
    with the frames of tasks that stopped early)."""
    systems = selection.get("systems", {}).values()
    out = {k: sum(s[k] for s in systems) for k in ("accurate", "candidate", "failed")}
    out["failed"] += sum(s.get("not_run", 0) for s in systems)
    return out


def _read_json(path) -> dict:
    return json.loads(path.read_text()) if path.exists() else {}


def assemble_summary(rd: RunDir, ii: int, job_idx: int, stage: int, timings: dict,
                     md_tasks: int, converged: bool) -> dict:
    """The summary of finished iteration ``ii`` from what its steps left in the run
    directory: the selection, the collected labels, the late labels (of this
    iteration still running; of earlier ones that joined its training) and the
    orchestration overhead (wall time beyond the critical path's compute)."""
    selection = json.loads(rd.selection(ii).read_text())
    fp = json.loads(rd.collected(ii).read_text())
    summary = iteration_summary(ii, job_idx, stage, selection, fp, timings,
                                phase_seconds(timings), md_tasks, converged)
    summary["labels_late"] = len(fp.get("late", []))
    compute = _read_json(rd.compute(ii))
    summary.update(overhead.summary_fields(compute, summary["total_s"]))
    summary["compute"] = compute
    summary["late_labels_joined"] = _read_json(rd.late_labels(ii)).get("labels_added", 0)
    return summary


def format_table(summaries: Iterable[dict]) -> str:
    head = " ".join(f"{name:>{len(fmt.format(0 if 'd' in fmt else 0.0))}}"
                    for name, fmt, _ in COLUMNS)
    lines = [head, "-" * len(head)]
    for s in summaries:
        adapted = [(k, c["f_trust"][0]) for k, c in sorted((s.get("systems") or {}).items())
                   if c.get("trust_adapted")]
        lines.append(" ".join(fmt.format(s.get(key, 0)) for _, fmt, key in COLUMNS)
                     + ("  converged" if s.get("stage_converged") else "")
                     + ("  f_lo " + " ".join(f"{k}:{lo:.3g}" for k, lo in adapted)
                        if adapted else ""))
    return "\n".join(lines)
