"""PNG figures of the property tests: EOS curves of all phases (the ensemble's band
against the reference, the paper's Fig. 4), phonon dispersion overlay, the
stacking-fault line, and a parity plot of every scalar (one panel per unit)."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _curves(found: dict[str, dict[str, Any]], name: str) -> dict[str, dict[str, Any]]:
    """Curve ``name`` of each calculator that has it."""
    out = {}
    for calc, props in found.items():
        for prop in props.values():
            if isinstance(prop, dict) and name in prop.get("curves", {}):
                out[calc] = prop["curves"][name]
    return out


def ensemble_band(models: list[dict], points: int = 200):
    """The models' curves on one grid spanning all of them: (x, min, max, mean, how
    many models cover each x). Each model is interpolated only inside its own x range
    (no flat extrapolation: models with different grids — each EOS is sampled around
    that model's own equilibrium — keep their own shape); outside it, it is absent."""
    lo = min(float(np.min(c["x"])) for c in models)
    hi = max(float(np.max(c["x"])) for c in models)
    x = np.linspace(lo, hi, points)
    ys = np.full((len(models), points), np.nan)
    for k, c in enumerate(models):
        cx, cy = np.asarray(c["x"], float), np.asarray(c["y"], float)
        order = np.argsort(cx)
        cx, cy = cx[order], cy[order]
        inside = (x >= cx[0]) & (x <= cx[-1])
        ys[k, inside] = np.interp(x[inside], cx, cy)
    n = np.sum(~np.isnan(ys), axis=0)
    with warnings.catch_warnings():  # all-NaN columns (no model there) stay NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        return x, np.nanmin(ys, axis=0), np.nanmax(ys, axis=0), np.nanmean(ys, axis=0), n


def _band(ax, curves: dict[str, dict], color, label: str) -> None:
    """Reference as a line with markers, the models' spread as a band (where at least two
    models cover the grid) and each model as a thin line, so none is hidden."""
    ref = curves.get("reference")
    models = [c for n, c in curves.items() if n != "reference"]
    if models:
        x, lo, hi, mean, n = ensemble_band(models)
        ax.fill_between(x, lo, hi, where=n >= 2, color=color, alpha=0.3, lw=0)
        for c in models:
            ax.plot(c["x"], c["y"], color=color, lw=0.5, alpha=0.6)
        ax.plot(x, np.where(n == len(models), mean, np.nan), color=color, lw=1.5,
                label=f"{label} DP (ensemble)")
    if ref:
        ax.plot(ref["x"], ref["y"], "o", mfc="none", color=color, ms=4, label=f"{label} ref.")


def eos_plot(found, phases: list[str], path: Path) -> bool:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    drawn = False
    for k, p in enumerate(phases):
        curves = _curves(found, f"eos.{p}")
        if curves:
            _band(ax, curves, f"C{k}", p)
            drawn = True
    if not drawn:
        plt.close(fig)
        return False
    ax.set_xlabel("V (Å³/atom)")
    ax.set_ylabel("E (eV/atom)")
    ax.set_title("Equations of state: DP ensemble (band: min–max) vs reference (o)")
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def sf_plot(found, path: Path) -> bool:
    curves = _curves(found, "stacking_fault.gsf")
    if not curves:
        return False
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5.5, 4))
    _band(ax, curves, "C3", "")
    ax.set_xlabel("shift along [11-2] (units of a/√6)")
    ax.set_ylabel("γ (mJ/m²)")
    ax.set_title("(111) generalized stacking fault")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def tick_labels(labels: list[str], connections: list[bool]) -> list[str]:
    """One name per segment boundary; where the path jumps (a segment not connected to
    the next), the two points share a tick as "U|K"."""
    if not labels or len(connections) == 0:
        return labels
    out, k = [labels[0]], 0
    for i, connected in enumerate(connections):
        end = labels[k + 1] if k + 1 < len(labels) else "?"
        if connected or i == len(connections) - 1:
            out.append(end)
            k += 1
        else:
            out.append(f"{end}|{labels[k + 2] if k + 2 < len(labels) else '?'}")
            k += 2
    return out


def phonon_plot(found, path: Path) -> bool:
    curves = _curves(found, "phonon.bands")
    if not curves:
        return False
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    for calc, c in sorted(curves.items(), key=lambda kv: kv[0] == "reference"):
        ref = calc == "reference"
        for seg, (d, f) in enumerate(zip(c["distances"], c["frequencies"])):
            ax.plot(d, f, color="k" if ref else "C0", lw=1.6 if ref else 0.6,
                    alpha=1 if ref else 0.5,
                    label=("reference" if ref else "DP models") if seg == 0 else None)
    ref = curves.get("reference") or next(iter(curves.values()))
    ticks = [d[0] for d in ref["distances"]] + [ref["distances"][-1][-1]]
    for t in ticks:
        ax.axvline(t, color="0.7", lw=0.5)
    names = tick_labels(ref.get("labels") or [], ref.get("connections") or [])
    if len(names) == len(ticks):
        ax.set_xticks(ticks, names)
    ax.axhline(0, color="0.5", lw=0.5)
    ax.set_ylabel("ν (THz)")
    ax.set_title("Phonon dispersion")
    handles, names = ax.get_legend_handles_labels()
    uniq = dict(zip(names, handles))
    ax.legend(uniq.values(), uniq.keys(), fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def _unit(key: str) -> str:
    for unit in ("GPa", "mJ_m2", "J_m2", "eV_per_atom", "A3_per_atom", "THz", "eV", "A"):
        if key.endswith("_" + unit):
            return unit
    return ""


def parity_plot(rows: list[dict[str, Any]], path: Path) -> bool:
    groups: dict[str, list[dict]] = {}
    for r in rows:
        u = _unit(r["property"])
        if u and r.get("mean") is not None:
            groups.setdefault(u, []).append(r)
    if not groups:
        return False
    plt = _plt()
    ncol = min(4, len(groups))
    nrow = -(-len(groups) // ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(3.2 * ncol, 3.2 * nrow), squeeze=False)
    for ax in axes.ravel()[len(groups):]:
        ax.set_visible(False)
    for ax, (unit, rs) in zip(axes.ravel(), sorted(groups.items())):
        x = np.array([r["reference"] for r in rs])
        y = np.array([r["mean"] for r in rs])
        e = np.array([r["std"] for r in rs])
        colours = [{True: "C2", False: "C3"}.get(r.get("pass"), "0.5") for r in rs]
        lo, hi = float(min(x.min(), y.min())), float(max(x.max(), y.max()))
        pad = 0.05 * (hi - lo or 1)
        ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], color="0.6", lw=0.8)
        ax.errorbar(x, y, yerr=e, fmt="none", ecolor="0.3", lw=0.8)
        ax.scatter(x, y, c=colours, s=14, zorder=3)
        title = {"A": "Å", "A3_per_atom": "Å³/atom", "mJ_m2": "mJ/m²", "J_m2": "J/m²",
                 "eV_per_atom": "eV/atom"}.get(unit, unit)
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("reference", fontsize=8)
        ax.set_ylabel("DP ensemble", fontsize=8)
        ax.tick_params(labelsize=7)
    fig.suptitle("All scalars, ensemble mean ± std (green: within tolerance, red: not, "
                 "grey: no tolerance)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def all_plots(found, rows, phases: list[str], out: Path) -> list[str]:
    """Every figure there is data for; their file names."""
    made = []
    for name, ok in (("eos.png", lambda p: eos_plot(found, phases, p)),
                     ("phonon.png", lambda p: phonon_plot(found, p)),
                     ("stacking_fault.png", lambda p: sf_plot(found, p)),
                     ("parity.png", lambda p: parity_plot(rows, p))):
        if ok(out / name):
            made.append(name)
    return made
