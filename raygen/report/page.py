"""The run report: PNG figures of a run and one self-contained HTML page (the
figures embedded, and also written beside it)."""

from __future__ import annotations

import base64
import html
import time
from pathlib import Path

import numpy as np

from raygen.report.runinfo import RunInfo
from raygen.state.workdir import RunDir


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    _plt().close(fig)


def outcomes_figure(info: RunInfo, path: Path) -> bool:
    if not info.summaries:
        return False
    plt = _plt()
    it = [s["iteration"] for s in info.summaries]
    acc = np.array([s.get("accurate_pct", 0) for s in info.summaries])
    cand = np.array([s.get("candidate_pct", 0) for s in info.summaries])
    fail = np.array([s.get("failed_pct", 0) for s in info.summaries])
    fig, ax = plt.subplots(figsize=(6, 3.4))
    ax.bar(it, acc, color="C2", label="accurate")
    ax.bar(it, cand, bottom=acc, color="C1", label="candidate")
    ax.bar(it, fail, bottom=acc + cand, color="C3", label="failed")
    ax.set_xlabel("iteration")
    ax.set_ylabel("% of explored frames")
    ax.set_xticks(it)
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title("Frames by model deviation")
    _save(fig, path)
    return True


def deviation_figure(info: RunInfo, path: Path) -> bool:
    devs = {k: v[np.isfinite(v) & (v > 0)] for k, v in info.deviations.items()}
    devs = {k: v for k, v in devs.items() if v.size}
    if not devs:
        return False
    plt = _plt()
    lo = min(float(v.min()) for v in devs.values())
    hi = max(float(v.max()) for v in devs.values())
    bins = np.logspace(np.log10(lo), np.log10(hi * 1.001), 50)
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    cmap = plt.get_cmap("viridis")
    n = max(devs) or 1
    for k, v in sorted(devs.items()):
        ax.hist(v, bins=bins, histtype="step", color=cmap(k / n), lw=1.3,
                label=f"iter {k} ({v.size} frames)")
    drawn = set()
    for t_lo, t_hi in sorted(info.trust.values()):
        for t, style, name in ((t_lo, "--", "lo"), (t_hi, ":", "hi")):
            if np.isfinite(t) and (t, style) not in drawn:
                ax.axvline(t, color="k", ls=style, lw=1)
                ax.text(t, 0.98, f" trust_{name} {t:g}", transform=ax.get_xaxis_transform(),
                        rotation=90, va="top", ha="right", fontsize=7)
                drawn.add((t, style))
    ax.set_xscale("log")
    ax.set_xlabel("max force deviation (eV/Å); dashed: trust_lo, dotted: trust_hi")
    ax.set_ylabel("frames per bin")
    ax.set_title("Model deviation of the explored frames")
    ax.legend(fontsize=7, ncol=2)
    _save(fig, path)
    return True


def labels_figure(info: RunInfo, path: Path) -> bool:
    if not info.summaries:
        return False
    plt = _plt()
    it = [s["iteration"] for s in info.summaries]
    fig, ax = plt.subplots(figsize=(5, 3.2))
    ax.bar(it, [s.get("labels_added", 0) for s in info.summaries], color="C0")
    ax.set_xticks(it)
    ax.set_xlabel("iteration")
    ax.set_ylabel("labels added")
    ax.set_title("Labels per iteration")
    _save(fig, path)
    return True


def walltime_figure(info: RunInfo, path: Path) -> bool:
    if not info.summaries:
        return False
    plt = _plt()
    it = np.array([s["iteration"] for s in info.summaries])
    bottom = np.zeros(len(it))
    fig, ax = plt.subplots(figsize=(5.5, 3.2))
    for key, name, color in (("train_s", "train", "C0"), ("explore_s", "explore", "C1"),
                             ("label_s", "label", "C2")):
        vals = np.array([s.get(key, 0.0) for s in info.summaries])
        ax.bar(it, vals, bottom=bottom, color=color, label=name)
        bottom += vals
    other = np.array([max(0.0, s.get("total_s", 0.0) - b)
                      for s, b in zip(info.summaries, bottom)])
    ax.bar(it, other, bottom=bottom, color="0.6", label="other")
    ax.set_xticks(it)
    ax.set_xlabel("iteration")
    ax.set_ylabel("wall time (s)")
    ax.set_title("Wall time of each step")
    ax.legend(fontsize=8)
    _save(fig, path)
    return True


def lcurve_figure(info: RunInfo, path: Path) -> bool:
    if not info.lcurves:
        return False
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    cmap = plt.get_cmap("viridis")
    n = max(info.lcurves) or 1
    for ii, models in sorted(info.lcurves.items()):
        for m, data in sorted(models.items()):
            for ax, col in zip(axes, ("rmse_e_trn", "rmse_f_trn")):
                if col in data and "step" in data:
                    ax.plot(data["step"], data[col], color=cmap(ii / n), lw=0.8, alpha=0.8,
                            label=f"iter {ii}" if m == min(models) else None)
    for ax, title in zip(axes, ("energy RMSE (training batch), eV/atom",
                                "force RMSE (training batch), eV/Å")):
        ax.set_yscale("log")
        ax.set_xlabel("training step")
        ax.set_title(title, fontsize=9)
    axes[1].legend(fontsize=7, ncol=2)
    _save(fig, path)
    return True


def trust_check_figure(info: RunInfo, path: Path) -> bool:
    """Each iteration's ensemble on its new labels: true force error against the max
    force deviation of every labelled frame. Points near the diagonal: the deviation
    measures the error, and selecting by it is sound."""
    checks = {k: v for k, v in info.trust_checks.items() if v}
    if not checks:
        return False
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5.2, 4.4))
    cmap = plt.get_cmap("viridis")
    n = max(checks) or 1
    every = []
    for k, rows in sorted(checks.items()):
        x = np.array([r["max_devi_f"] for r in rows])
        y = np.array([r["max_force_error"] for r in rows])
        every += [x, y]
        ax.scatter(x, y, s=12, color=cmap(k / n), label=f"iter {k} ({len(rows)})")
    both = np.concatenate(every)
    both = both[both > 0]
    lo, hi = (both.min() / 1.5, both.max() * 1.5) if both.size else (1e-3, 1.0)
    ax.plot([lo, hi], [lo, hi], color="0.5", lw=0.8, ls="--")
    for t_lo, t_hi in sorted(set(info.trust.values())):
        for t in (t_lo, t_hi):
            if np.isfinite(t):
                ax.axvline(t, color="k", lw=0.6, ls=":")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.set_xlabel("max force deviation of the ensemble (eV/Å)")
    ax.set_ylabel("true max force error vs. label (eV/Å)")
    ax.set_title("Is the deviation worth trusting? (new labels)", fontsize=10)
    ax.legend(fontsize=7)
    _save(fig, path)
    return True


def data_figure(info: RunInfo, path: Path) -> bool:
    """The labelled data the ensemble trains on, after each iteration."""
    if not info.summaries:
        return False
    plt = _plt()
    it = [s["iteration"] for s in info.summaries]
    fig, ax = plt.subplots(figsize=(5, 3.2))
    ax.plot(it, cumulative_frames(info), marker="o")
    ax.set_xticks(it)
    ax.set_xlabel("iteration")
    ax.set_ylabel("labelled frames (cumulative)")
    ax.set_title(f"Training data ({info.init_frames} initial frames)")
    _save(fig, path)
    return True


def cumulative_frames(info: RunInfo) -> list[int]:
    """Initial frames plus every label added (late ones included) up to each iteration."""
    total, out = info.init_frames, []
    for s in info.summaries:
        total += int(s.get("labels_added", 0)) + int(s.get("late_labels_joined", 0) or 0)
        out.append(total)
    return out


FIGURES = (("outcomes.png", outcomes_figure), ("deviation.png", deviation_figure),
           ("trust_check.png", trust_check_figure), ("labels.png", labels_figure),
           ("data.png", data_figure), ("walltime.png", walltime_figure),
           ("lcurve.png", lcurve_figure))

CSS = """body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222}
table{border-collapse:collapse;font-size:13px;margin:1em 0}
td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}
th{background:#f2f2f2} td.l,th.l{text-align:left}
.fail{color:#b00;font-weight:bold} .ok{color:#070}
img{max-width:100%;border:1px solid #eee;margin:.5em 0}
.status{font-size:15px;padding:.5em 1em;background:#eef5ff;border-left:4px solid #37c}"""


def _img(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<img alt="{html.escape(path.name)}" src="data:image/png;base64,{data}">'


def _fmt(x, spec: str) -> str:
    return "—" if x is None else format(x, spec)


def iteration_table(info: RunInfo) -> str:
    cols = ("iter", "stage", "md", "frames", "acc %", "cand %", "fail %", "labels",
            "converged", "retried", "failed", "late", "data", "train s", "explore s",
            "label s", "iter s", "ovh %")
    rows = ["<tr>" + "".join(f"<th>{c}</th>" for c in cols) + "</tr>"]
    for s, data in zip(info.summaries, cumulative_frames(info)):
        status = s.get("label_status") or {}
        unlabelled = sum(v for k, v in status.items() if k not in ("converged", "late"))
        vals = (s["iteration"], s.get("stage"), s.get("md_tasks"), s.get("frames"),
                _fmt(s.get("accurate_pct"), ".2f"), _fmt(s.get("candidate_pct"), ".2f"),
                _fmt(s.get("failed_pct"), ".2f"), s.get("labels_added"),
                status.get("converged", 0), s.get("labels_retried", 0), unlabelled,
                s.get("labels_late", status.get("late", 0)) or 0, data,
                _fmt(s.get("train_s"), ".1f"), _fmt(s.get("explore_s"), ".1f"),
                _fmt(s.get("label_s"), ".1f"), _fmt(s.get("total_s"), ".1f"),
                _fmt(s.get("overhead_pct"), ".1f"))
        rows.append("<tr>" + "".join(f"<td>{v}</td>" for v in vals) + "</tr>")
    return ("<table>" + "".join(rows) + "</table><p>labels: converged labels added; "
            "retried: calculations that needed more than one attempt; failed: frames left "
            "without a label (never data); late: still running when the next iteration "
            "started (label.proceed_ratio); data: labelled frames the next training reads.</p>")


def _pct_cells(c: dict) -> str:
    n = {k: int(c.get(k, 0) or 0) for k in ("accurate", "candidate", "failed")}
    total = sum(n.values())
    if not total:
        return "<td>0</td><td>—</td><td>—</td><td>—</td>"
    return f"<td>{total}</td>" + "".join(f"<td>{100 * v / total:.1f}</td>" for v in n.values())


def breakdown_tables(info: RunInfo) -> str:
    """Accurate / candidate / failed per system and per (system, T, P), by iteration:
    where the ensemble is already good and where it is not."""
    if not info.summaries:
        return ""
    def name(k) -> str:
        return info.system_names[int(k)] if int(k) < len(info.system_names) else f"system {k}"

    head = "<tr><th>iter</th><th class=l>system</th>{}<th>frames</th><th>acc %</th>" \
           "<th>cand %</th><th>fail %</th></tr>"
    rows = [head.format("<th>trust lo–hi</th>")]
    for s in info.summaries:
        for k, c in sorted((s.get("systems") or {}).items(), key=lambda kv: int(kv[0])):
            lo_hi = c.get("f_trust") or ["—", "—"]
            rows.append(f"<tr><td>{s['iteration']}</td><td class=l>{html.escape(name(k))}</td>"
                        f"<td>{lo_hi[0]}–{lo_hi[1]}</td>{_pct_cells(c)}</tr>")
    out = "<h3>By system</h3><table>" + "".join(rows) + "</table>"
    if info.by_condition:
        revs = any(c.get("revisions") for conds in info.by_condition.values() for c in conds)
        rows = [head.format("<th>T (K)</th><th>P (bar)</th>"
                            + ("<th class=l>template keys</th>" if revs else ""))]
        for ii, conds in sorted(info.by_condition.items()):
            for c in conds:
                rev = (f"<td class=l>{html.escape(c.get('revisions') or '—')}</td>"
                       if revs else "")
                rows.append(f"<tr><td>{ii}</td><td class=l>{html.escape(name(c['sys_idx']))}"
                            f"</td><td>{_fmt(c['temp'], 'g')}</td><td>{_fmt(c['press'], 'g')}"
                            f"</td>{rev}{_pct_cells(c)}</tr>")
        out += "<h3>By system and condition</h3><table>" + "".join(rows) + "</table>"
    return out


def trust_check_text(info: RunInfo) -> str:
    """One sentence per iteration on the trust check (how often the true error falls
    inside the trust window the frame was picked in)."""
    if not info.trust_checks:
        return ("<p>No trust check yet (label.check_ensemble: each iteration's ensemble "
                "on its new labels).</p>")
    parts = []
    for ii, rows in sorted(info.trust_checks.items()):
        if not rows:
            continue
        x = np.array([r["max_devi_f"] for r in rows])
        y = np.array([r["max_force_error"] for r in rows])
        rho = _spearman(x, y) if len(rows) > 2 else float("nan")
        parts.append(f"iteration {ii}: {len(rows)} new labels, true max force error "
                     f"{np.median(y):.3f} eV/Å (median) at a deviation of {np.median(x):.3f}"
                     f"; rank correlation {rho:.2f}")
    return "<p>" + "<br>".join(html.escape(p) for p in parts) + "</p>"


def _spearman(x: np.ndarray, y: np.ndarray) -> float:
    rx, ry = np.argsort(np.argsort(x)), np.argsort(np.argsort(y))
    if rx.std() == 0 or ry.std() == 0:
        return float("nan")
    return float(np.corrcoef(rx, ry)[0, 1])


def props_section(info: RunInfo) -> str:
    p = info.props
    if not p:
        return ("<p>No property tests yet: <code>python -m raygen.props "
                f"{html.escape(str(info.root))}</code></p>")
    head = ("<tr><th class=l>property</th><th>reference</th><th>ensemble mean ± std</th>"
            "<th>error</th><th>rel. error</th><th>tolerance</th><th>pass</th></tr>")
    rows = [head]
    judged = [r for r in p["table"] if r.get("pass") is not None]
    passed = sum(1 for r in judged if r["pass"])
    headline = (f"<p class=status><b>{passed} of {len(judged)}</b> judged values within "
                "tolerance (the ensemble's mean within it, and its spread no larger)</p>")
    for r in p["table"]:
        verdict = {True: "<span class=ok>yes</span>", False: "<span class=fail>no</span>",
                   None: "—"}[r.get("pass")]
        if r.get("fails_on") == "spread":
            verdict = "<span class=fail>no (spread)</span>"
        elif r.get("note"):
            verdict = f"— ({html.escape(r['note'])})"
        rel = r.get("rel_error")
        rows.append(
            f"<tr><td class=l>{html.escape(r['property'])}</td><td>{r['reference']:.4g}</td>"
            f"<td>{_fmt(r.get('mean'), '.4g')} ± {_fmt(r.get('std'), '.2g')}</td>"
            f"<td>{_fmt(r.get('abs_error'), '+.3g')}</td>"
            f"<td>{'—' if rel is None else format(100 * rel, '+.2f') + ' %'}</td>"
            f"<td>{html.escape(str(r.get('tolerance') or '—'))}</td><td>{verdict}</td></tr>")
    props = RunDir(info.root).props
    figs = "".join(_img(props / f) for f in p.get("figures", []) if (props / f).exists())
    errs = "".join(f"<li>{html.escape(e)}</li>" for e in p.get("errors", []))
    return (headline + f"<p>{len(p['models'])} models against "
            f"label={html.escape(p['reference']['label'])}"
            f"; {p['points_computed']} points computed, {p['points_cached']} cached, "
            f"{p['wall_s']} s.</p><table>{''.join(rows)}</table>"
            + (f"<ul>{errs}</ul>" if errs else "") + figs)


def write_report(info: RunInfo, out: Path) -> Path:
    """Figures into ``out`` and ``out/index.html``; the page's path."""
    out.mkdir(parents=True, exist_ok=True)
    made = [name for name, fn in FIGURES if fn(info, out / name)]
    figs = "".join(_img(out / name) for name in made)
    page = f"""<!doctype html><html><head><meta charset="utf-8">
<title>raygen report: {html.escape(info.root.name)}</title><style>{CSS}</style></head><body>
<h1>raygen run <code>{html.escape(info.root.name)}</code></h1>
<p class=status>{html.escape(info.status)} — {len(info.summaries)} iteration(s) summarised;
report written {time.strftime('%Y-%m-%d %H:%M:%S')}</p>
<h2>Iterations</h2>{iteration_table(info)}
{breakdown_tables(info)}
<h2>Is the model deviation worth trusting?</h2>{trust_check_text(info)}
{figs}
<h2>Property tests</h2>{props_section(info)}
</body></html>
"""
    from raygen.atomic import atomic_write_text

    atomic_write_text(out / "index.html", page)
    return out / "index.html"
