"""Label efficiency, side by side: held-out error against the number of labels, per
iteration, for each way of choosing what to label, over several seeds.

    python bench/bench_label_efficiency.py --exp cu_quick --seeds 0 1 --out /tmp/ble \\
        [--variants uniform fps early+fps] [--max-iter 3] [--holdout DIR ...] [-- overrides]

Each variant is a set of raygen overrides on the same experiment:

- ``uniform``: DP-GEN's selection (raygen's ``select.pick=uniform`` is DP-GEN 0.14's rule,
  checked against it in tests/selection/test_adaptive.py and the cu-quick side-by-side);
- ``inv_pop_f``: dpgen2's inverse-population pick;
- ``fps`` / ``fps-atom``: farthest-point sampling in descriptor space (structure / atom level);
- ``early+fps``: fps, and MD that stops when the ensemble gives up (5 failed frames in a row,
  one restart from the last trusted frame).

Seed ``s`` sets ``select.seed`` (picking and MD velocities) and ``train.seed`` (the members'
initialisation). After the runs, every iteration's ensemble (``iter.*/00.train``) is scored
on the held-out sets (default: the cu-quick workload's, written by
``bench/cu_quick/workload.py``) with raygen's held-out scorer; the table gives, per variant
and iteration, the labels the loop had added when its ensemble was trained (the initial
data, the same for all, not counted; the last row of each variant is the run's final
ensemble, trained on every label) and the force and
energy RMSE as mean ± half the range over the seeds. No assertions: a benchmark, not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from raygen.config.backend import frozen_models  # noqa: E402

VARIANTS = {
    "uniform": ["select.pick=uniform"],
    "inv_pop_f": ["select.pick=inv_pop_f"],
    "fps": ["select.pick=fps", "select.pick_descriptor=structure"],
    "fps-atom": ["select.pick=fps", "select.pick_descriptor=atom"],
    "early+fps": ["select.pick=fps", "explore.early_stop.failed_frames=5",
                  "explore.early_stop.restarts=1"],
}


def run_variant(exp: str, variant: str, seed: int, out: Path, max_iter: int,
                extra: list[str]) -> Path:
    run = out / f"{variant}.s{seed}"
    cmd = [sys.executable, "-m", "raygen", f"+exp={exp}", f"workdir={run}", "progress=false",
           f"max_iter={max_iter}", f"select.seed={seed}", f"train.seed={seed}",
           "select.converge_accurate_ratio=null", *VARIANTS[variant], *extra]
    print("#", " ".join(cmd[2:]), flush=True)
    env = {**os.environ, "RAYGEN_CU_QUICK": str(out / "workload")}  # +exp=cu_quick's data
    subprocess.run(cmd, check=True, cwd=out, env=env)
    return run


def labels_by_iteration(run: Path) -> list[int]:
    """Labels the loop had added when each iteration's ensemble was trained (the initial
    data, the same for every variant, not counted)."""
    n = 0
    out = []
    for it in sorted(run.glob("iter.*")):
        if not (it / "summary.json").exists():
            break
        out.append(n)
        n += json.loads((it / "summary.json").read_text())["labels_added"]
    if frozen_models(run / "models"):  # the run's final ensemble, trained on every label
        out.append(n)
    return out


def scores_by_iteration(run: Path, holdout: list[Path]) -> list[tuple[float, float]]:
    """(force RMSE eV/Å, energy RMSE meV/atom) of each finished iteration's ensemble on
    all held-out sets together (the scorer in a process of its own, as a user runs it)."""
    out = []
    ensembles = [it / "00.train" for it in sorted(run.glob("iter.*"))
                 if (it / "summary.json").exists()]
    if frozen_models(run / "models"):
        ensembles.append(run / "models")
    for models in ensembles:
        js = models / "holdout.json"
        if not js.exists():
            subprocess.run([sys.executable, "-m", "raygen.report.holdout", str(models),
                            *map(str, holdout), "--json", str(js)], check=True,
                           capture_output=True)
        total = json.loads(js.read_text())["all"]
        out.append((total["f_rmse_eV_A"], total["e_rmse_meV_atom"]))
    return out


def table(rows: dict[str, dict[int, list]]) -> str:
    """``rows[variant][seed] = [(labels, f_rmse, e_rmse) per iteration]`` as text."""
    lines = ["variant      iter  labels added   F RMSE eV/Å (mean ± half-range)  "
             "E RMSE meV/atom", "-" * 86]
    for variant, by_seed in rows.items():
        n_iter = min(len(v) for v in by_seed.values())
        for ii in range(n_iter):
            lab = [by_seed[s][ii][0] for s in by_seed]
            f = [by_seed[s][ii][1] for s in by_seed]
            e = [by_seed[s][ii][2] for s in by_seed]
            lines.append(f"{variant:<12} {ii:>4}  {np.mean(lab):>13.1f}  "
                         f"{np.mean(f):>12.4f} ± {(max(f) - min(f)) / 2:.4f}"
                         f"{'':>14}{np.mean(e):>8.1f} ± {(max(e) - min(e)) / 2:.1f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    argv = argv[:argv.index("--")] if "--" in argv else argv
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--exp", default="cu_quick")
    ap.add_argument("--variants", nargs="+", default=["uniform", "fps", "early+fps"],
                    choices=sorted(VARIANTS))
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    ap.add_argument("--max-iter", type=int, default=3)
    ap.add_argument("--holdout", nargs="*", type=Path, default=None,
                    help="held-out deepmd/npy sets (default: the cu-quick workload's)")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    work = args.out / "workload"  # cu-quick's data (its runs' and the default held-out)
    if not (work / "holdout").exists():
        subprocess.run([sys.executable, str(ROOT / "bench" / "cu_quick" / "workload.py"),
                        str(work)], check=True)
    holdout = args.holdout or sorted((work / "holdout").iterdir())
    rows: dict[str, dict[int, list]] = {}
    for variant in args.variants:
        for seed in args.seeds:
            run = args.out / f"{variant}.s{seed}"
            if not (run / "iter.000000" / "summary.json").exists() or \
                    len(labels_by_iteration(run)) < args.max_iter:
                run_variant(args.exp, variant, seed, args.out, args.max_iter, extra)
            labels = labels_by_iteration(run)
            scores = scores_by_iteration(run, holdout)
            rows.setdefault(variant, {})[seed] = [(n, f, e) for n, (f, e) in
                                                  zip(labels, scores)]
    text = table(rows)
    (args.out / "label_efficiency.txt").write_text(text + "\n")
    (args.out / "label_efficiency.json").write_text(json.dumps(rows, indent=1))
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
