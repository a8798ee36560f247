"""raygen and DP-GEN 0.14 side by side on the cu-quick workload.

    python bench/cu_quick/compare.py OUT [--seeds 1 2] [--tools dpgen raygen]

1. writes the workload into OUT (bench/cu_quick/workload.py) unless it is there;
2. installs DP-GEN 0.14 from PyPI into its own venv (OUT/dpgen_venv) unless there;
3. runs each tool once per seed in OUT/runs/<tool>.s<seed>/ (DP-GEN: ``dpgen run``
   with its local shell dispatcher and ``fp_style: custom`` calling EMT; raygen:
   ``python -m raygen +exp=cu_quick``), skipping runs that already finished;
4. prints per-step wall times (train, explore incl. deviation, label, iteration)
   per iteration, their ratio, accurate/candidate/failed and labels per iteration,
   and both final ensembles' energy and force errors on the held-out frames
   (``python -m raygen.report.holdout``); writes OUT/compare.json.

DP-GEN's step times come from the timestamps of its dpgen.log ("task 00".."task 08"
lines); raygen's from each iteration's summary.json. No assertions: a benchmark.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
STEP_PHASE = {0: "train", 1: "train", 2: "train", 3: "explore", 4: "explore", 5: "explore",
              6: "label", 7: "label", 8: "label"}


def ensure_workload(out: Path, dpgen_python: Path) -> None:
    if not (out / "dpgen" / "param.json").exists():
        subprocess.run([sys.executable, str(HERE / "workload.py"), str(out), str(dpgen_python)],
                       check=True)


def ensure_dpgen(venv: Path) -> Path:
    py = venv / "bin" / "python"
    if not (venv / "bin" / "dpgen").exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(py), "-m", "pip", "install", "--quiet", "dpgen==0.14.0"], check=True)
    return py


def run_dpgen(out: Path, run: Path, venv: Path, seed: int) -> float:
    run.mkdir(parents=True, exist_ok=True)
    for name in ("param.json", "machine.json"):
        (run / name).write_text((out / "dpgen" / name).read_text())
    env = {**os.environ, "PYTHONHASHSEED": str(seed)}
    t0 = time.time()
    with open(run / "run.log", "a") as log:
        subprocess.run([str(venv / "bin" / "dpgen"), "run", "param.json", "machine.json"],
                       cwd=run, env=env, stdout=log, stderr=subprocess.STDOUT, check=True)
    return time.time() - t0


def run_raygen(out: Path, run: Path, seed: int) -> float:
    env = {**os.environ, "RAYGEN_CU_QUICK": str(out)}
    t0 = time.time()
    subprocess.run([sys.executable, "-m", "raygen", "+exp=cu_quick", f"workdir={run}",
                    f"train.seed={seed}", f"select.seed={seed}", "progress=false"],
                   env=env, check=True, capture_output=True)
    return time.time() - t0


def dpgen_times(run: Path) -> dict[int, dict[str, float]]:
    """Seconds per phase per iteration from dpgen.log's step lines."""
    marks = []
    pat = re.compile(r"^(\S+ \S+) - INFO : -+iter\.(\d+) task (\d+)-+")
    end = None
    for line in (run / "dpgen.log").read_text().splitlines():
        m = pat.match(line)
        stamp = line[:23]
        try:
            end = datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S,%f").timestamp()
        except ValueError:
            continue
        if m:
            marks.append((end, int(m.group(2)), int(m.group(3))))
    out: dict[int, dict[str, float]] = {}
    for k, (t, ii, jj) in enumerate(marks):
        t_next = marks[k + 1][0] if k + 1 < len(marks) else end
        phase = STEP_PHASE[jj]
        out.setdefault(ii, {"train": 0.0, "explore": 0.0, "label": 0.0})[phase] += t_next - t
    return out


def dpgen_counts(run: Path, ii: int) -> dict[str, int]:
    fp = run / f"iter.{ii:06d}" / "02.fp"
    counts = {}
    for kind, name in (("candidate", "candidate"), ("accurate", "rest_accurate"),
                       ("failed", "rest_failed")):
        counts[kind] = sum(len(p.read_text().splitlines())
                           for p in fp.glob(f"{name}.shuffled.*.out"))
    counts["labels"] = len(list(fp.glob("task.*")))
    return counts


def raygen_rows(run: Path) -> dict[int, dict]:
    rows = {}
    ii = 0
    while (run / f"iter.{ii:06d}" / "summary.json").exists():
        s = json.loads((run / f"iter.{ii:06d}" / "summary.json").read_text())
        rows[ii] = {"train": s["train_s"], "explore": s["explore_s"], "label": s["label_s"],
                    "iteration": s["total_s"], "accurate": s["accurate"],
                    "candidate": s["candidate"], "failed": s["failed"],
                    "labels": s["labels_added"]}
        ii += 1
    return rows


def dpgen_rows(run: Path) -> dict[int, dict]:
    times = dpgen_times(run)
    rows = {}
    for ii, t in times.items():
        if not (run / f"iter.{ii:06d}" / "02.fp").exists():
            continue
        rows[ii] = {**t, "iteration": sum(t.values()), **dpgen_counts(run, ii)}
    return rows


def final_models(tool: str, run: Path) -> Path:
    if tool == "raygen":
        return run / "models"
    last = sorted(run.glob("iter.*/00.train/graph.000.pb"))[-1]
    return last.parent


def holdout(models: Path, out: Path, dest: Path) -> dict:
    data = sorted(str(p) for p in (out / "holdout").iterdir())
    subprocess.run([sys.executable, "-m", "raygen.report.holdout", str(models), *data,
                    "--json", str(dest)], check=True, capture_output=True)
    scores = json.loads(dest.read_text())
    return scores.get("all") or next(iter(scores.values()))


def mean(xs):
    xs = [x for x in xs if x is not None]
    return sum(xs) / len(xs) if xs else float("nan")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out", type=Path)
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--tools", nargs="+", default=["dpgen", "raygen"])
    args = ap.parse_args(argv)
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    venv = out / "dpgen_venv"
    if "dpgen" in args.tools:
        ensure_dpgen(venv)
    ensure_workload(out, venv / "bin" / "python")
    result: dict = {}
    for tool in args.tools:
        for seed in args.seeds:
            run = out / "runs" / f"{tool}.s{seed}"
            done = run / ("models/graph.003.pb" if tool == "raygen" else "iter.000003")
            wall = None
            if not done.exists():
                wall = run_dpgen(out, run, venv, seed) if tool == "dpgen" \
                    else run_raygen(out, run, seed)
            rows = raygen_rows(run) if tool == "raygen" else dpgen_rows(run)
            score = holdout(final_models(tool, run), out, run / "holdout.json")
            result[f"{tool}.s{seed}"] = {"wall_s": wall, "iterations": rows,
                                         "holdout": score}
    (out / "compare.json").write_text(json.dumps(result, indent=1, default=str))
    print(format_table(result, args.tools, args.seeds))


def format_table(result: dict, tools: list[str], seeds: list[int]) -> str:
    lines = []
    iters = sorted({int(i) for r in result.values() for i in r["iterations"]})
    head = f"{'iter':>4} {'step':>9} " + " ".join(f"{t:>14}" for t in tools) + \
        ("   ratio" if len(tools) == 2 else "")
    lines.append("wall time per step, mean over seeds " + str(seeds) + " (s)")
    lines.append(head)
    for ii in iters:
        for step in ("train", "explore", "label", "iteration"):
            vals = [mean([result[f"{t}.s{s}"]["iterations"].get(ii, {}).get(step)
                          for s in seeds]) for t in tools]
            ratio = f" {vals[1] / vals[0]:7.2f}" if len(vals) == 2 and vals[0] else ""
            lines.append(f"{ii:>4} {step:>9} " + " ".join(f"{v:14.1f}" for v in vals) + ratio)
    lines.append("")
    lines.append("per run: iteration -> accurate/candidate/failed, labels")
    for key, r in result.items():
        parts = [f"{ii}: {row['accurate']}/{row['candidate']}/{row['failed']}, {row['labels']}"
                 for ii, row in sorted(r["iterations"].items(), key=lambda kv: int(kv[0]))]
        h = r["holdout"]
        lines.append(f"{key:>10}  " + "; ".join(parts)
                     + f"  | held-out E {h['e_rmse_meV_atom']:.1f} meV/atom, "
                     f"F {h['f_rmse_eV_A']:.4f} eV/Å")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
