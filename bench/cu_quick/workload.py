"""The standard workload "cu-quick": one generator for both tools.

    python bench/cu_quick/workload.py OUT

writes, byte-identical for DP-GEN and raygen:

- ``OUT/init/{fcc,hcp,bcc}``: initial data (deepmd/npy): fcc (cubic 2x2x2, 32 atoms),
  hcp (2x2x2, 16 atoms), bcc (cubic 2x2x2, 16 atoms), each relaxed with EMT, then
  10 perturbed frames (0.01 Å atoms, 3 % cell) + 10 frames of a 50 K EMT MD, labelled;
- ``OUT/confs/{fcc,hcp,bcc}/POSCAR.00k``: 5 perturbed copies of each (MD starts);
- ``OUT/holdout/*``: held-out EMT frames (deepmd/npy) neither tool trains on: MD at
  300, 900 and 1500 K of each phase, and strained cells;
- ``OUT/emt_label.py``: the labelling program (EMT), for DP-GEN's ``fp_style: custom``
  and raygen's ``label=custom`` alike: reads ``input.POSCAR``, writes ``out/`` (deepmd/npy);
- ``OUT/dpgen/param.json`` and ``machine.json`` (DP-GEN 0.14, local shell dispatcher).

The training and exploration settings (``TRAINING``, ``JOBS``) are the workload's
definition; raygen's side is ``conf/exp/cu_quick.yaml`` with the same values.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

SEED = 20261122
TYPE_MAP = ["Cu"]
TRAINING = {
    "model": {
        "type_map": TYPE_MAP,
        "descriptor": {"type": "se_e2_a", "rcut": 5.0, "rcut_smth": 0.5, "sel": [90],
                       "neuron": [10, 20, 40], "axis_neuron": 8, "resnet_dt": False},
        "fitting_net": {"neuron": [60, 60, 60], "resnet_dt": True},
    },
    "learning_rate": {"type": "exp", "start_lr": 1e-3, "stop_lr": 1e-5, "decay_steps": 100},
    "loss": {"type": "ener", "start_pref_e": 0.02, "limit_pref_e": 1, "start_pref_f": 1000,
             "limit_pref_f": 1, "start_pref_v": 0.02, "limit_pref_v": 1},
    "training": {"numb_steps": 2000, "disp_file": "lcurve.out", "disp_freq": 100,
                 "save_freq": 1000, "training_data": {"batch_size": "auto"}},
}
# 3 iterations of NPT, 1000 steps, every 10th frame, dt 2 fs, 5 starts x 3 systems
# x 2 temperatures x 2 pressures = 60 MD runs per iteration
JOBS = [
    {"temps": [50, 300], "press": [1, 1000]},
    {"temps": [600, 900], "press": [1, 10000]},
    {"temps": [1200, 1500], "press": [1, 10000]},
]
NSTEPS, TRJ_FREQ, DT = 1000, 10, 0.002
F_TRUST = (0.05, 0.20)
FP_TASK_MAX, FP_TASK_MIN = 20, 1

EMT_LABEL = '''"""EMT labels for the cu-quick benchmark: input.POSCAR -> out/ (deepmd/npy)."""
import dpdata
from ase.calculators.emt import EMT
from ase.io import read

atoms = read("input.POSCAR", format="vasp")
atoms.calc = EMT()
atoms.get_potential_energy()
atoms.get_forces()
atoms.get_stress()
dpdata.LabeledSystem(atoms, fmt="ase/structure", type_map=["Cu"]).to("deepmd/npy", "out")
'''


def phases():
    from ase.build import bulk

    return {"fcc": bulk("Cu", "fcc", a=3.61, cubic=True).repeat((2, 2, 2)),
            "hcp": bulk("Cu", "hcp", a=2.55, c=4.16).repeat((2, 2, 2)),
            "bcc": bulk("Cu", "bcc", a=2.87, cubic=True).repeat((2, 2, 2))}


def relaxed(atoms):
    from ase.calculators.emt import EMT
    from ase.filters import FrechetCellFilter
    from ase.optimize import BFGS

    a = atoms.copy()
    a.calc = EMT()
    BFGS(FrechetCellFilter(a), logfile=None).run(fmax=1e-3, steps=300)
    return a


def perturbed(atoms, rng, atom_pert=0.01, cell_pert=0.03):
    a = atoms.copy()
    strain = np.eye(3) + rng.uniform(-cell_pert, cell_pert, (3, 3)) / 2
    strain = (strain + strain.T) / 2
    a.set_cell(a.cell.array @ strain, scale_atoms=True)
    a.positions += rng.uniform(-atom_pert, atom_pert, a.positions.shape)
    return a


def md_frames(atoms, temperature, n, stride, rng_seed):
    from ase import units
    from ase.calculators.emt import EMT
    from ase.md.langevin import Langevin
    from ase.md.velocitydistribution import MaxwellBoltzmannDistribution

    a = atoms.copy()
    a.calc = EMT()
    MaxwellBoltzmannDistribution(a, temperature_K=temperature,
                                 rng=np.random.default_rng(rng_seed))
    dyn = Langevin(a, 2 * units.fs, temperature_K=temperature, friction=0.02, fixcm=False,
                   rng=np.random.default_rng(rng_seed + 1))
    frames = []
    for _ in range(n):
        dyn.run(stride)
        frames.append(a.copy())
    return frames


def labelled(frames):
    from ase.calculators.emt import EMT

    out = []
    for f in frames:
        f = f.copy()
        f.calc = EMT()
        f.get_potential_energy()
        f.get_forces()
        f.get_stress()
        out.append(f)
    return out


def write_npy(frames, path: Path) -> None:
    import dpdata

    system = dpdata.LabeledSystem(frames[0], fmt="ase/structure", type_map=TYPE_MAP)
    for f in frames[1:]:
        system.append(dpdata.LabeledSystem(f, fmt="ase/structure", type_map=TYPE_MAP))
    system.to("deepmd/npy", str(path), set_size=len(frames))


def dpgen_inputs(out: Path, python: str, dp: str, lmp: str) -> tuple[dict, dict]:
    param = {
        "type_map": TYPE_MAP, "mass_map": [63.546],
        "init_data_prefix": str(out), "init_data_sys": ["init/fcc", "init/hcp", "init/bcc"],
        "sys_configs_prefix": str(out),
        "sys_configs": [[f"confs/{p}/POSCAR.*"] for p in ("fcc", "hcp", "bcc")],
        "numb_models": 4, "default_training_param": TRAINING,
        "model_devi_dt": DT, "model_devi_skip": 0,
        "model_devi_f_trust_lo": F_TRUST[0], "model_devi_f_trust_hi": F_TRUST[1],
        "model_devi_clean_traj": False,
        "model_devi_jobs": [{"sys_idx": [0, 1, 2], "temps": j["temps"], "press": j["press"],
                             "trj_freq": TRJ_FREQ, "nsteps": NSTEPS, "ensemble": "npt",
                             "_idx": f"{k:02d}"} for k, j in enumerate(JOBS)],
        "fp_style": "custom", "shuffle_poscar": False,
        "fp_task_max": FP_TASK_MAX, "fp_task_min": FP_TASK_MIN,
        "fp_params": {"input_fmt": "vasp/poscar", "input_fn": "input.POSCAR",
                      "output_fmt": "deepmd/npy", "output_fn": "out"},
    }
    local = {"batch_type": "Shell", "context_type": "LazyLocalContext", "local_root": "./"}
    envs = {"OMP_NUM_THREADS": "1", "DP_INTRA_OP_PARALLELISM_THREADS": "1",
            "DP_INTER_OP_PARALLELISM_THREADS": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}

    def res(group_size):
        return {"number_node": 1, "cpu_per_node": 1, "gpu_per_node": 0,
                "group_size": group_size, "envs": envs}

    # a 2-core workstation: 2 trainings at a time (2 groups of 2 models), 2 MD jobs
    # (2 groups of 30 runs), 2 labelling jobs
    machine = {
        "api_version": "1.0", "deepmd_version": "3.2.0",
        "train": {"command": f"{dp} --tf", "machine": local, "resources": res(2)},
        "model_devi": {"command": lmp, "machine": local, "resources": res(30)},
        "fp": {"command": f"{python} {out / 'emt_label.py'}", "machine": local,
               "resources": res(30)},
    }
    return param, machine


def main(argv: list[str]) -> None:
    out = Path(argv[0]).resolve()
    python = argv[1] if len(argv) > 1 else sys.executable
    bindir = Path(sys.executable).parent
    rng = np.random.default_rng(SEED)
    from ase.io import write

    for name, atoms in phases().items():
        base = relaxed(atoms)
        frames = [perturbed(base, rng) for _ in range(10)]
        frames += md_frames(base, 50, 10, 5, SEED + len(name))
        write_npy(labelled(frames), out / "init" / name)
        (out / "confs" / name).mkdir(parents=True, exist_ok=True)
        for k in range(5):
            write(out / "confs" / name / f"POSCAR.{k:03d}", perturbed(base, rng),
                  format="vasp", direct=True, sort=True)
        for temp in (300, 900, 1500):
            write_npy(labelled(md_frames(base, temp, 8, 20, SEED + temp)),
                      out / "holdout" / f"{name}_md{temp}")
        strained = [perturbed(base, rng, atom_pert=0.05, cell_pert=0.08) for _ in range(8)]
        write_npy(labelled(strained), out / "holdout" / f"{name}_strained")
    (out / "emt_label.py").write_text(EMT_LABEL)
    param, machine = dpgen_inputs(out, python, str(bindir / "dp"), str(bindir / "lmp"))
    (out / "dpgen").mkdir(exist_ok=True)
    (out / "dpgen" / "param.json").write_text(json.dumps(param, indent=1))
    (out / "dpgen" / "machine.json").write_text(json.dumps(machine, indent=1))
    print(f"cu-quick workload in {out}")


if __name__ == "__main__":
    main(sys.argv[1:])
