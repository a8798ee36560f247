"""deepmd-kit's TensorFlow and PyTorch backends side by side on this machine: training
steps/s and LAMMPS MD steps/s of the same model (and of a DPA-3, PyTorch only).

    python bench/bench_backends.py [--steps 400] [--md-steps 1000] [--threads 1]

Each model is trained with raygen's own trainer (``dp --<backend> train``, one process,
``--threads`` threads) on 88 EMT-labelled frames of 32-atom fcc and 16-atom bcc Cu, with
the input of ``conf/train/se_e2_a.yaml`` (the ``cu`` example's model) and
``conf/train/dpa3.yaml``; the speed is deepmd-kit's own "average training time" (s per
batch, the first display interval excluded by deepmd-kit). MD: 32-atom fcc Cu, NPT 600 K,
in raygen's in-process LAMMPS (as its explorers run it), with the model as trained and
compressed (`dp compress`, where deepmd-kit can), after a 100-step warm-up. Each
measurement runs in a process of its own (one framework per process).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def train(backend: str, model: str, steps: int, root: Path, data: list[Path]) -> dict:
    import yaml

    from raygen.actors.trainer import TRAIN_LOG, compress_model, train_member
    from raygen.config.backend import cannot_compress, graph_name
    from raygen.config.schema import TrainConfig
    from raygen.science.training_input import make_training_input

    spec = yaml.safe_load((ROOT / "conf" / "train" / f"{model}.yaml").read_text())
    cfg = TrainConfig(numb_steps=steps, input=spec["input"], disp_freq=100, backend=backend)
    inp = make_training_input(cfg, ["Cu"], data, 0, 0, False)
    work = root / f"{model}.{backend}"
    graph = work / graph_name(0, backend)
    start = time.perf_counter()
    train_member(work / "000", inp, graph, backend)
    total = time.perf_counter() - start
    log = (work / "000" / TRAIN_LOG).read_text()
    per_batch = float(re.findall(r"average training time: ([0-9.]+) s/batch", log)[-1])
    out = {"backend": backend, "model": model, "train_steps_per_s": round(1 / per_batch, 1),
           "train_total_s": round(total, 1), "graph": str(graph)}
    if not cannot_compress(inp):
        dst = graph.with_name(f"graph.000.compressed{graph.suffix}")
        error, _ = compress_model(graph, dst, backend)
        out["compressed"] = None if error else str(dst)
    return out


def md_speed(backend: str, model: Path, nsteps: int) -> float:
    from ase.build import bulk

    from raygen.engines.lammps import load_lammps
    from raygen.engines.lammps_input import lammps_input, write_conf

    lammps, plugin = load_lammps(backend)
    d = Path(tempfile.mkdtemp())
    write_conf(bulk("Cu", "fcc", a=3.6, cubic=True).repeat((2, 2, 2)), d / "conf.lmp", ["Cu"])
    os.chdir(d)
    speeds = []
    for n in (100, nsteps):  # warm-up, then the measured run
        (d / "in.lammps").write_text(lammps_input(
            model=str(model), type_map=["Cu"], temp=600, press=1.0, ensemble="npt",
            nsteps=n, trj_freq=100, dt=0.002, tau_t=0.1, tau_p=0.5, seed=1))
        lmp = lammps.lammps(cmdargs=["-log", "none", "-screen", "none", "-nocite"])
        lmp.command(f"plugin load {plugin}")
        start = time.perf_counter()
        lmp.file(str(d / "in.lammps"))
        speeds.append(n / (time.perf_counter() - start))
        lmp.close()
    return round(speeds[-1], 1)


def child(args) -> None:
    """One measurement, in this process; prints one JSON line."""
    if args.what == "train":
        data = [Path(p) for p in args.data]
        print(json.dumps(train(args.backend, args.model, args.steps, Path(args.root), data)))
    else:
        print(json.dumps({"md_steps_per_s": md_speed(args.backend, Path(args.graph),
                                                     args.md_steps)}))


def run_child(*argv: str, threads: int) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "TF_CPP_MIN_LOG_LEVEL": "3",
           "DP_INTRA_OP_PARALLELISM_THREADS": str(threads),
           "DP_INTER_OP_PARALLELISM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    proc = subprocess.run([sys.executable, __file__, "--child", *argv], capture_output=True,
                          text=True, env=env, timeout=3600)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def make_data(root: Path) -> list[Path]:
    import numpy as np
    from ase.calculators.emt import EMT

    from raygen.config.schema import InitConfig, SystemConfig
    from raygen.science.dataset import init_md_frames, write_deepmd_npy
    from raygen.science.structures import build_system, perturb, relax

    rng = np.random.default_rng(0)
    paths = []
    for crystal, a in (("fcc", 3.61), ("bcc", 2.87)):
        base = relax(build_system(SystemConfig(name=crystal, crystal=crystal, a=a,
                                                supercell=[2, 2, 2])), EMT())
        frames = []
        for k in range(4):
            frames += init_md_frames(perturb(base, rng, 0.01, 0.03), EMT(),
                                     InitConfig(md_steps=10, md_temperature=50), seed=k)
        write_deepmd_npy(frames, ["Cu"], root / crystal)
        paths += sorted(p for p in (root / crystal).iterdir() if p.is_dir())
    return paths


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--md-steps", type=int, default=1000)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--what", default="train", help=argparse.SUPPRESS)
    ap.add_argument("--backend", default="tf", help=argparse.SUPPRESS)
    ap.add_argument("--model", default="se_e2_a", help=argparse.SUPPRESS)
    ap.add_argument("--root", help=argparse.SUPPRESS)
    ap.add_argument("--graph", help=argparse.SUPPRESS)
    ap.add_argument("--data", nargs="*", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return child(args)
    root = Path(tempfile.mkdtemp(prefix="bench_backends."))
    data = make_data(root / "data")
    print(f"{'model':<8} {'backend':<7} {'train steps/s':>13} {'MD steps/s':>10} "
          f"{'MD compressed':>13}")
    for model, backend in (("se_e2_a", "tf"), ("se_e2_a", "pt"), ("dpa3", "pt")):
        t = run_child("--what", "train", "--backend", backend, "--model", model,
                      "--steps", str(args.steps), "--root", str(root),
                      "--data", *map(str, data), threads=args.threads)
        md = run_child("--what", "md", "--backend", backend, "--graph", t["graph"],
                       "--md-steps", str(args.md_steps), threads=args.threads)
        cmd = "-"
        if t.get("compressed"):
            cmd = run_child("--what", "md", "--backend", backend, "--graph", t["compressed"],
                            "--md-steps", str(args.md_steps),
                            threads=args.threads)["md_steps_per_s"]
        print(f"{model:<8} {backend:<7} {t['train_steps_per_s']:>13} "
              f"{md['md_steps_per_s']:>10} {cmd:>13}", flush=True)


if __name__ == "__main__":
    main()
