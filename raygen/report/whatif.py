"""What would other trust levels have labelled? Re-applies a grid of force trust
levels to a run's stored deviation tables (``01.model_devi/model_devi.parquet``)
with the run's own selection settings (fp_task_max and its throttle, fp_task_min,
model_devi_skip), in seconds and without any DFT:

    python -m raygen.report.whatif cu_run --f-trust-lo 0.03 0.05 --f-trust-hi 0.15 0.25 \\
        [--plot whatif.png]

For each (lo, hi) and iteration: the accurate / candidate / failed counts and the
labels it would have sent. A first-order estimate: the deviations are those of the
models this run trained; with other trust levels the labels, hence the models and
their later deviations, would differ.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from itertools import product
from pathlib import Path

import pyarrow.parquet as pq
from omegaconf import OmegaConf

from raygen.selection.select import select_frames
from raygen.state.workdir import RunDir


def iterations(rd: RunDir) -> list[tuple[int, int]]:
    """(iteration, job index) of every iteration with a deviation table."""
    out = []
    ii = 0
    while rd.iter(ii).exists():
        summary = rd.summary(ii)
        if rd.deviations(ii).exists():
            job = json.loads(summary.read_text())["job"] if summary.exists() else None
            out.append((ii, job))
        ii += 1
    return out


def whatif(workdir: Path, lows: list[float], highs: list[float]) -> list[dict]:
    """One row per (lo, hi, iteration) with ``lo < hi``."""
    rd = RunDir(Path(workdir))
    if not rd.config.exists():
        raise FileNotFoundError(f"{rd.config}: not a raygen run directory")
    cfg = OmegaConf.load(rd.config)
    its = iterations(rd)
    if not its:
        raise FileNotFoundError(f"{workdir}: no iteration has a deviation table yet")
    tables = {ii: pq.read_table(rd.deviations(ii)) for ii, _ in its}
    rows = []
    for lo, hi in product(lows, highs):
        if lo >= hi:
            continue
        select = copy.deepcopy(cfg.select)
        select.f_trust_lo, select.f_trust_hi = lo, hi
        for ii, job_idx in its:
            job = None
            if job_idx is not None:
                job = copy.deepcopy(cfg.explore.jobs[job_idx])
                job.f_trust_lo = job.f_trust_hi = None  # the grid decides
            sel = select_frames(tables[ii], select, job, ii, cfg.explore.model_devi_skip)
            # a system's candidates include the ones chosen (they are the first of
            # its shuffled candidates): the three classes partition the frames
            counts = {k: sum(s.counts[k] for s in sel.values())
                      for k in ("accurate", "candidate", "failed")}
            total = sum(counts.values())
            rows.append({"f_trust_lo": lo, "f_trust_hi": hi, "iteration": ii, **counts,
                         "frames": total,
                         "labels": sum(len(s.chosen) for s in sel.values()),
                         "accurate_ratio": counts["accurate"] / total if total else 0.0})
    return rows


def format_rows(rows: list[dict]) -> str:
    head = f"{'lo':>6} {'hi':>6} {'iter':>4} {'accurate':>8} {'candidate':>9} " \
           f"{'failed':>7} {'labels':>6} {'acc%':>6}"
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(f"{r['f_trust_lo']:>6.3f} {r['f_trust_hi']:>6.3f} {r['iteration']:>4d} "
                     f"{r['accurate']:>8d} {r['candidate']:>9d} {r['failed']:>7d} "
                     f"{r['labels']:>6d} {100 * r['accurate_ratio']:>6.2f}")
    totals: dict[tuple, int] = {}
    for r in rows:
        key = (r["f_trust_lo"], r["f_trust_hi"])
        totals[key] = totals.get(key, 0) + r["labels"]
    lines.append("")
    lines += [f"lo={lo:g} hi={hi:g}: {n} labels in all" for (lo, hi), n in totals.items()]
    return "\n".join(lines)


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for lo, hi in dict.fromkeys((r["f_trust_lo"], r["f_trust_hi"]) for r in rows):
        pts = [(r["iteration"], r["labels"]) for r in rows
               if (r["f_trust_lo"], r["f_trust_hi"]) == (lo, hi)]
        ax.plot(*zip(*pts), marker="o", label=f"{lo:g}–{hi:g} eV/Å")
    ax.set_xlabel("iteration")
    ax.set_ylabel("frames sent to the labeler")
    ax.legend(title="f_trust_lo–hi")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m raygen.report.whatif",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("workdir", type=Path)
    p.add_argument("--f-trust-lo", type=float, nargs="+", required=True)
    p.add_argument("--f-trust-hi", type=float, nargs="+", required=True)
    p.add_argument("--plot", type=Path, help="write a PNG of labels per iteration")
    p.add_argument("--json", type=Path, help="write the rows as JSON")
    args = p.parse_args(argv)
    try:
        rows = whatif(args.workdir, args.f_trust_lo, args.f_trust_hi)
    except FileNotFoundError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if not rows:
        print("error: no (lo, hi) pair with lo < hi", file=sys.stderr)
        return 2
    print(format_rows(rows))
    if args.plot:
        plot(rows, args.plot)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
