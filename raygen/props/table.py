"""The Table II-style comparison: each scalar of the reference against the
ensemble's mean ± spread, absolute and relative error, pass/fail against its
tolerance; as rows, Markdown and the versioned JSON."""

from __future__ import annotations

import fnmatch
import math
from typing import Any, Optional

import numpy as np

FORMAT = "raygen.props/1"


def tolerance_of(key: str, tolerances: dict[str, str]) -> Optional[str]:
    for pattern, tol in tolerances.items():
        if fnmatch.fnmatchcase(key, pattern):
            return str(tol)
    return None


def allowance(ref: float, tol: str) -> float:
    """The absolute error a tolerance allows at reference value ``ref``: ``"N%"`` is
    relative to the quantity's own size, ``"X"`` absolute (in its unit), ``"N% or X"``
    the larger of the two (relative, with a floor where the value itself is small)."""
    allowed = 0.0
    for part in str(tol).split(" or "):
        part = part.strip()
        if part.endswith("%"):
            allowed = max(allowed, abs(ref) * float(part[:-1]) / 100)
        else:
            allowed = max(allowed, float(part))
    return allowed


def tolerance_problem(tol: str) -> Optional[str]:
    """What is wrong with a tolerance string, or None."""
    parts = str(tol).split(" or ")
    try:
        values = [float(p.strip()[:-1] if p.strip().endswith("%") else p) for p in parts]
    except ValueError:
        return f"{tol!r}: not a tolerance (an absolute value, 'N%', or 'N% or X')"
    if any(v < 0 or v != v for v in values):
        return f"{tol!r}: must not be negative"
    return None


def judge(mean: float, std: float, ref: float, tol: str) -> tuple[bool, str]:
    """(pass, why not): the ensemble mean within the tolerance of the reference, and the
    ensemble's spread no larger than the tolerance — a mean that happens to land near
    the reference does not pass when the members disagree by more than it allows."""
    allowed = allowance(ref, tol) + 1e-12
    if abs(mean - ref) > allowed:
        return False, "error"
    if std > allowed:
        return False, "spread"
    return True, ""


def compare(found: dict[str, dict[str, Any]], tolerances: dict[str, str],
            reference: str = "reference") -> list[dict[str, Any]]:
    """One row per scalar the reference has: its value, each model's, the ensemble
    mean and standard deviation, the errors of the mean, and the verdict (``pass``:
    True, False — ``fails_on`` says whether the error or the spread —, or None: no
    tolerance, a model missing, or zero by construction)."""
    ref_scalars: dict[str, float] = {}
    for prop in found.get(reference, {}).values():
        ref_scalars.update(prop.get("scalars", {}) if isinstance(prop, dict) else {})
    models = sorted(n for n in found if n != reference)
    rows = []
    for key, ref in ref_scalars.items():
        vals = []
        for m in models:
            for prop in found[m].values():
                if isinstance(prop, dict) and key in prop.get("scalars", {}):
                    vals.append(float(prop["scalars"][key]))
        row: dict[str, Any] = {"property": key, "reference": ref, "models": vals}
        if vals:
            mean, std = float(np.mean(vals)), float(np.std(vals))
            row.update(mean=mean, std=std, abs_error=mean - ref,
                       rel_error=(mean - ref) / ref if ref else None)
            tol = tolerance_of(key, tolerances)
            row["tolerance"] = tol
            # e.g. the ground phase's energy difference to itself: nothing to judge
            zero = ref == 0 and all(v == 0 for v in vals) and key.endswith("_per_atom")
            if zero:
                row["note"] = "zero by construction"
            if tol is None or len(vals) < len(models) or zero:
                row["pass"] = None
            else:
                row["pass"], why = judge(mean, std, ref, tol)
                if why:
                    row["fails_on"] = why
        rows.append(row)
    return rows


def _num(x: Optional[float], spec: str = ".4g") -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    return format(x, spec)


def markdown(rows: list[dict[str, Any]]) -> str:
    lines = ["| property | reference | ensemble (mean ± std) | error | rel. error | tolerance "
             "| pass |", "|---|---:|---:|---:|---:|---:|:---:|"]
    for r in rows:
        verdict = {True: "yes", False: "**no**", None: "—"}[r.get("pass")]
        if r.get("fails_on") == "spread":
            verdict = "**no** (spread)"
        elif r.get("note"):
            verdict = f"— ({r['note']})"
        rel = r.get("rel_error")
        lines.append(
            f"| {r['property']} | {_num(r['reference'])} | "
            f"{_num(r.get('mean'))} ± {_num(r.get('std'), '.2g')} | "
            f"{_num(r.get('abs_error'), '+.3g')} | "
            f"{'—' if rel is None else format(100 * rel, '+.2f') + ' %'} | "
            f"{r.get('tolerance') or '—'} | {verdict} |")
    return "\n".join(lines)


def errors(found: dict[str, dict[str, Any]]) -> list[str]:
    return [f"{calc}: {prop}: {v['error']}" for calc, props in found.items()
            for prop, v in props.items() if isinstance(v, dict) and "error" in v]
