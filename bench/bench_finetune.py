"""Labels saved by fine-tuning: held-out force error against the number of labels, for
a Cu run fine-tuned from a model pre-trained without Cu and the same run from scratch.

    python bench/bench_finetune.py [--seeds 0 1] [--steps 600] [--pretrain-steps 1500]

The pre-trained model is :mod:`raygen.examples.pretrain`'s multi-task DPA-3 (branches
noble = Ag/Au, group10 = Ni/Pd/Pt, Al; no Cu), trained once. Each arm runs the
``cu_smoke`` loop with ``train=dpa3`` (3 iterations, the same initial data, trust levels
and ``fp_task_max``; ``train.seed`` and ``select.seed`` = the seed), differing only in
where the members start:

- ``scratch``: new weights every iteration;
- ``finetune``: iteration 0 fine-tuned from the ``noble`` branch (descriptor and fitting
  net), later iterations from the previous iteration's members
  (``init_model_policy=yes``);
- ``finetune_random``: the same from the shared descriptor with new fitting nets
  (``head=RANDOM``, the members' seeds give them different ones).

Every iteration's ensemble is then scored on two held-out sets no run labels: EMT MD
frames of what the runs explore (fcc and bcc Cu at 300 and 600 K, their own seeds) and
``raygen.examples.cu_holdout``'s EOS set (fcc/bcc/hcp over 0.86-1.10 a: beyond what
``cu_smoke`` explores). The table gives, per arm, seed and iteration, the labels the
models were trained on (initial + selected before it), the ensemble mean's force and
energy RMSE, the ensemble's own mean ``max_devi_f`` on the in-domain frames, and the
candidates the iteration selected. Written
to ``<out>/finetune.json`` and printed as a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ARMS = {
    "scratch": [],
    "finetune": ["train.finetune.head=noble", "train.init_model_policy=yes"],
    "finetune_random": ["train.finetune.head=RANDOM", "train.init_model_policy=yes"],
}


def run_arm(arm: str, seed: int, steps: int, pretrained: Path, work: Path) -> Path:
    workdir = work / f"{arm}_s{seed}"
    args = [sys.executable, "-m", "raygen", "+exp=cu_smoke", "train=dpa3",
            f"train.numb_steps={steps}", f"train.seed={seed}", f"select.seed={seed}",
            f"workdir={workdir}", *ARMS[arm]]
    if arm != "scratch":
        args.append(f"train.finetune.model={pretrained}")
    with open(work / f"{arm}_s{seed}.log", "w") as log:
        code = subprocess.run(args, stdout=log, stderr=subprocess.STDOUT,
                              env={**os.environ, "HOME": str(work / "home")}).returncode
    if code != 0:
        raise RuntimeError(f"{arm} seed {seed} failed (exit {code}); see {log.name}")
    return workdir


def in_domain_holdout(out: Path, seed: int = 1000) -> Path:
    """Held-out frames of what the runs explore, never labelled by them: EMT Langevin MD
    of fcc (32 atoms) and bcc (16 atoms) Cu at 300 and 600 K from their own seeds."""
    from ase.build import bulk
    from ase.calculators.emt import EMT

    from raygen.config.schema import InitConfig
    from raygen.science.dataset import init_md_frames, write_deepmd_npy
    from raygen.science.structures import perturb

    if not out.exists():
        rng = np.random.default_rng(seed)
        frames = []
        for crystal, a in (("fcc", 3.61), ("bcc", 2.87)):
            cell = bulk("Cu", crystal, a=a, cubic=True).repeat((2, 2, 2))
            for k, temp in enumerate((300, 600)):
                frames += init_md_frames(perturb(cell, rng, 0.02, 0.02), EMT(),
                                         InitConfig(md_steps=400, md_temperature=temp,
                                                    md_stride=20), seed=seed + k)
        write_deepmd_npy(frames, ["Cu"], out)
    return out


def score_iterations(workdir: Path, holdouts: dict[str, list[Path]]) -> list[dict]:
    """Each iteration's ensemble on each held-out set (ensemble-mean RMSE), with the
    labels it was trained on."""
    from deepmd.infer import DeepPot

    from raygen.config.backend import frozen_models
    from raygen.report.holdout import combine, load_systems, score
    from raygen.science.dataset import count_frames, deepmd_systems

    sets = {name: load_systems(paths, None) for name, paths in holdouts.items()}
    rows = []
    init = [s for d in sorted((workdir / "init").glob("data.*")) for s in deepmd_systems(d)]
    labels = count_frames(init)
    for it in sorted(workdir.glob("iter.[0-9]*")):
        models = [DeepPot(str(p)) for p in frozen_models(it / "00.train")]
        if not models:
            continue
        picked = [s for d in sorted((it / "02.fp").glob("data.[0-9][0-9][0-9]"))
                  for s in deepmd_systems(d)]
        row = {"iter": int(it.name.split(".")[1]), "labels": labels,
               "selected": count_frames(picked)}
        for name, systems in sets.items():
            total = combine([score(models, sy) for sy in systems.values()])
            row[name] = {"f_rmse": total.f_rmse_eV_A, "e_rmse": total.e_rmse_meV_atom,
                         "max_devi_f": total.mean_max_devi_f}
        rows.append(row)
        labels += row["selected"]
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--steps", type=int, default=600, help="training steps per iteration")
    ap.add_argument("--pretrain-steps", type=int, default=1500)
    ap.add_argument("--arms", nargs="+", default=list(ARMS), choices=list(ARMS))
    ap.add_argument("--out", type=Path, default=None, help="work folder (default: a temp dir)")
    args = ap.parse_args(argv)
    work = args.out or Path(tempfile.mkdtemp(prefix="bench_finetune_"))
    work.mkdir(parents=True, exist_ok=True)
    (work / "home").mkdir(exist_ok=True)
    from raygen.examples.pretrain import pretrain

    pretrained = work / "pretrained" / "pretrained.pt"
    if not pretrained.exists():
        pretrain(work / "pretrained", args.pretrain_steps)
    holdout = work / "cu_holdout"
    if not holdout.exists():
        subprocess.run([sys.executable, "-m", "raygen.examples.cu_holdout", str(holdout)],
                       check=True, stdout=subprocess.DEVNULL)
    holdouts = {"in_domain": [in_domain_holdout(work / "holdout_md")],
                "eos": [holdout / "eos"]}
    runs = {f"{arm}/{seed}": run_arm(arm, seed, args.steps, pretrained, work)
            for seed in args.seeds for arm in args.arms}  # resumed where already run
    results = {key: score_iterations(workdir, holdouts) for key, workdir in runs.items()}
    (work / "finetune.json").write_text(json.dumps(results, indent=1))
    print(f"work folder: {work}")
    print("| arm | seed | iter | labels | in-domain F RMSE (eV/Å) | E (meV/atom) "
          "| <max_devi_f> | EOS F RMSE | E | selected |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for key, rows in results.items():
        arm, seed = key.split("/")
        for r in rows:
            d, e = r["in_domain"], r["eos"]
            print(f"| {arm} | {seed} | {r['iter']} | {r['labels']} | {d['f_rmse']:.4f} | "
                  f"{d['e_rmse']:.1f} | {d['max_devi_f']:.4f} | {e['f_rmse']:.4f} | "
                  f"{e['e_rmse']:.1f} | {r['selected']} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
