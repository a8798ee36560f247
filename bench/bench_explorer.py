"""MD tasks in one persistent Explorer vs one `lmp` process per task (DP-GEN's way).

    python bench/bench_explorer.py cu_run/models/graph.000.pb [--tasks 6] [--nsteps 1000]

Same input (32-atom fcc Cu, NPT 600 K) for both; prints wall time per task.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import ray
from ase.build import bulk

from raygen.actors.explorer import Explorer
from raygen.engines.lammps import LammpsExploreConfig
from raygen.engines.lammps_input import lammps_input, write_conf


def make_task(d: Path, model: Path, nsteps: int, seed: int) -> None:
    d.mkdir(parents=True)
    write_conf(bulk("Cu", "fcc", a=3.6, cubic=True).repeat((2, 2, 2)), d / "conf.lmp", ["Cu"])
    (d / "in.lammps").write_text(lammps_input(
        model=str(model.resolve()), type_map=["Cu"], temp=600, press=1.0, ensemble="npt",
        nsteps=nsteps, trj_freq=10, dt=0.002, tau_t=0.1, tau_p=0.5, seed=seed))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("model", type=Path)
    ap.add_argument("--tasks", type=int, default=6)
    ap.add_argument("--nsteps", type=int, default=1000)
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp())
    lmp = shutil.which("lmp") or str(Path(sys.executable).with_name("lmp"))
    start = time.perf_counter()
    for k in range(args.tasks):
        d = root / f"lmp.{k}"
        make_task(d, args.model, args.nsteps, k + 1)
        subprocess.run([lmp, "-in", "in.lammps", "-screen", "none"], cwd=d, check=True,
                       env={"OMP_NUM_THREADS": "1", "TF_CPP_MIN_LOG_LEVEL": "2",
                            "PATH": str(Path(sys.executable).parent)})
    per_lmp = (time.perf_counter() - start) / args.tasks

    ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False)
    t0 = time.perf_counter()
    explorer = Explorer.remote(LammpsExploreConfig(), ["Cu"])
    ray.get(explorer.ready.remote())
    startup = time.perf_counter() - t0
    start = time.perf_counter()
    for k in range(args.tasks):
        d = root / f"actor.{k}"
        make_task(d, args.model, args.nsteps, k + 1)
        ray.get(explorer.run.remote(str(d), d.name, 0, str(d / "traj.parquet"))[0])
    per_actor = (time.perf_counter() - start) / args.tasks
    ray.shutdown()
    print(f"{args.tasks} tasks x {args.nsteps} steps, 32 atoms, 1 thread")
    print(f"lmp process per task : {per_lmp:6.2f} s/task")
    print(f"persistent Explorer  : {per_actor:6.2f} s/task (+ {startup:.1f} s once per iteration)")
    shutil.rmtree(root)


if __name__ == "__main__":
    main()
