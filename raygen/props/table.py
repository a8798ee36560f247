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


def within(err: float, ref: float, tol: str) -> bool:
    tol = tol.strip()
    if tol.endswith("%"):
        return bool(ref != 0 and abs(err / ref) <= float(tol[:-1]) / 100 + 1e-12)
    return bool(abs(err) <= float(tol) + 1e-12)


def compare(found: dict[str, dict[str, Any]], tolerances: dict[str, str],
            reference: str = "reference") -> list[dict[str, Any]]:
    """One row per scalar the reference has: its value, each model's, the ensemble
    mean and standard deviation, the errors of the mean, and the verdict."""
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
            mean = float(np.mean(vals))
            row.update(mean=mean, std=float(np.std(vals)), abs_error=mean - ref,
                       rel_error=(mean - ref) / ref if ref else None)
            tol = tolerance_of(key, tolerances)
            row["tolerance"] = tol
            row["pass"] = None if tol is None or len(vals) < len(models) \
                else within(mean - ref, ref, tol)
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
