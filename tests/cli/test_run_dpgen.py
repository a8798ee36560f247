"""``python -m raygen run-dpgen param.json machine.json``: a DP-GEN user's inputs, as
DP-GEN reads them (prefixes, a trust-level dict, t_freq, deepmd-kit's stop_batch,
machine.json api 1.0, a LAMMPS template with DP-GEN's reserved lines and rev_mat, a PIMD
job), run with one command — labelled here by EMT instead of VASP."""

import json
import subprocess
import sys

import pytest
from ase.build import bulk
from ase.io import write

from raygen.science.dataset import write_deepmd_npy
from tests.conftest import TINY_TRAIN_INPUT, cu_frames
from tests.test_end_to_end import env_for, records

# DP-GEN's way of writing a template: the reserved lines pair_style deepmd and
# dump dpgen_dump, the keys V_* replaced from rev_mat
TEMPLATE = """\
variable NSTEPS equal V_NSTEPS
variable TEMP equal V_TEMP
units metal
boundary p p p
atom_style atomic
read_data conf.lmp
mass 1 63.546
pair_style deepmd
pair_coeff * *
velocity all create ${TEMP} 4928459 dist gaussian
fix 1 all npt temp ${TEMP} ${TEMP} 0.1 iso 1.0 1.0 0.5
timestep 0.002
thermo 10
dump dpgen_dump
run ${NSTEPS}
"""


@pytest.mark.slow
def test_a_dpgen_param_json_runs_with_one_command(tmp_path):
    write_deepmd_npy(cu_frames(), ["Cu"], tmp_path / "init")
    for k in range(2):
        atoms = bulk("Cu", "fcc", a=3.61, cubic=True).repeat((2, 2, 2))
        atoms.rattle(0.02, seed=k)
        (tmp_path / "confs" / f"{k:06d}").mkdir(parents=True)
        write(tmp_path / "confs" / f"{k:06d}" / "POSCAR", atoms, format="vasp")
    training = json.loads(json.dumps(TINY_TRAIN_INPUT))
    training["training"].update({"stop_batch": 100, "disp_freq": 50, "seed": 1,
                                 "systems": []})
    param = {"type_map": ["Cu"], "mass_map": [63.5], "_comment": "a small Cu run",
             "init_data_prefix": "./", "init_data_sys": ["init/Cu32"], "init_batch_size": [8],
             "sys_configs": [["confs/*/POSCAR"]], "sys_batch_size": [8], "numb_models": 2,
             "default_training_param": training, "model_devi_dt": 0.002,
             "model_devi_skip": 0, "model_devi_clean_traj": True,
             "model_devi_f_trust_lo": {"0": 0.05}, "model_devi_f_trust_hi": {"0": 0.6},
             "model_devi_jobs": [{"sys_idx": [0], "t_freq": 10, "taut": 0.1, "_idx": "00",
                                  "template": {"lmp": "lmp/input.lammps"},
                                  "rev_mat": {"lmp": {"V_NSTEPS": [200],
                                                      "V_TEMP": [300, 600]}}},
                                 {"sys_idx": [0], "temps": [300], "press": [1.0],
                                  "trj_freq": 10, "nsteps": 100, "ensemble": "npt",
                                  "nbeads": 2, "_idx": "01"}],
             "fp_style": "vasp", "shuffle_poscar": False, "fp_task_max": 5,
             "fp_task_min": 1, "ratio_failed": 0.2}
    machine = {"api_version": "1.0",
               "train": [{"command": "dp", "machine": {"batch_type": "Slurm"},
                          "resources": {"cpu_per_node": 4, "gpu_per_node": 0}}],
               "fp": [{"machine": {"batch_type": "Slurm"},
                       "resources": {"cpu_per_node": 1, "gpu_per_node": 0}}]}
    (tmp_path / "lmp").mkdir()
    (tmp_path / "lmp" / "input.lammps").write_text(TEMPLATE)
    (tmp_path / "param.json").write_text(json.dumps(param))
    (tmp_path / "machine.json").write_text(json.dumps(machine))
    proc = subprocess.run([sys.executable, "-m", "raygen", "run-dpgen", "param.json",
                           "machine.json", "label=emt", "max_iter=2", "progress=false"],
                          cwd=tmp_path, env=env_for(tmp_path), capture_output=True,
                          text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    run = tmp_path / "raygen_run"  # beside param.json, as DP-GEN's iter.* are
    assert (0, 8) in records(run) and (1, 8) in records(run)
    cfg = (run / "raygen.yaml").read_text()
    assert "f_trust_hi:\n  - 0.6" in cfg and "tau_t: 0.1" in cfg
    assert "trj_freq: 10" in cfg and "numb_steps: 100" in cfg
    report = (tmp_path / ".raygen_dpgen" / "dpgen_param.import.md").read_text()
    assert "0 unsupported" in report and "| `init_data_prefix` | mapped |" in report
    assert len(list((run / "models").glob("graph.*.pb"))) == 2
    # the template's tasks: 2 configurations x 2 temperatures, in DP-GEN's order, each
    # with its job.json, its revised input and DP-GEN's model_devi.out
    tasks = sorted((run / "iter.000000" / "01.model_devi").glob("task.*"))
    assert [json.loads((t / "job.json").read_text()) for t in tasks] == [
        {"V_NSTEPS": 200, "V_TEMP": v} for v in (300, 600, 300, 600)]
    for t in tasks:
        lines = (t / "in.lammps").read_text().splitlines()
        assert "variable TEMP equal 600" in lines or "variable TEMP equal 300" in lines
        assert "dump dpgen_dump all custom 10 traj.dump id type x y z" in lines
        devi = (t / "model_devi.out").read_text().splitlines()
        assert devi[0].startswith("#") and len(devi) == 1 + 21
    # PIMD (nbeads 2): one model_devi.out per task, bead 2's steps after bead 1's, as
    # DP-GEN merges them
    for t in sorted((run / "iter.000001" / "01.model_devi").glob("task.*")):
        steps = [int(line.split()[0]) for line in
                 (t / "model_devi.out").read_text().splitlines()[1:]]
        assert steps == [*range(0, 101, 10), *range(101, 202, 10)]
        assert "pimd/langevin" in (t / "in.lammps").read_text()
    conds = json.loads((run / "iter.000000" / "02.fp" / "by_condition.json").read_text())
    assert {c["revisions"] for c in conds} == {"V_NSTEPS=200 V_TEMP=300",
                                               "V_NSTEPS=200 V_TEMP=600"}

    # a key raygen cannot honour: refused before anything runs, named
    param["model_devi_jobs"][0]["pka_e"] = 8
    (tmp_path / "param.json").write_text(json.dumps(param))
    proc = subprocess.run([sys.executable, "-m", "raygen", "run-dpgen", "param.json"],
                          cwd=tmp_path, env=env_for(tmp_path), capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 2
    assert "model_devi_jobs[0].pka_e: primary knock-on atoms: not in this version" in proc.stderr
