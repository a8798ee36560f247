"""Explorer actors: real LAMMPS + DeePMD, many tasks in one process."""

import json

import pyarrow.parquet as pq
import ray

from raygen.actors.explorer import Explorer
from raygen.engines.lammps import LammpsExploreConfig
from raygen.engines.lammps_input import lammps_input, write_conf
from tests.conftest import cu_frames


def make_task(d, model, temp, ensemble="npt", nsteps=100, trj_freq=10):
    d.mkdir(parents=True)
    write_conf(cu_frames(n_perturb=1, md_steps=0)[0], d / "conf.lmp", ["Cu"])
    (d / "in.lammps").write_text(lammps_input(
        model=str(model), type_map=["Cu"], temp=temp, press=1.0, ensemble=ensemble,
        nsteps=nsteps, trj_freq=trj_freq, dt=0.002, tau_t=0.1, tau_p=0.5, seed=3))


def test_many_tasks_in_one_process_and_cached_rerun(local_ray, tiny_models, tmp_path):
    explorer = Explorer.remote(LammpsExploreConfig(), ["Cu"])
    ensembles = ["npt", "nvt", "npt-aniso", "npt-tri", "nve"]
    infos = []
    for k, ens in enumerate(ensembles):
        d = tmp_path / f"task.000.{k:06d}"
        make_task(d, tiny_models[0], 300 + 100 * k, ens)
        info, table = ray.get(explorer.run.remote(str(d), d.name, 0, str(d / "traj.parquet")))
        assert info.error is None, info.error
        assert table.column("step").to_pylist() == list(range(0, 101, 10))
        assert set(table.column("natoms").to_pylist()) == {32}
        assert pq.read_table(d / "traj.parquet").equals(table)
        infos.append(info)
    assert len({i.pid for i in infos}) == 1, "every task ran in the same process"
    first = tmp_path / "task.000.000000"
    info, table = ray.get(explorer.run.remote(str(first), first.name, 0,
                                              str(first / "traj.parquet")))
    assert info.cached and table.num_rows == 11


def test_pytorch_models_drive_lammps_in_the_same_process(local_ray, tiny_pt_models, tmp_path):
    """train.backend=pt: the explorer loads torch before the DeePMD plugin and runs
    ``pair_style deepmd graph.000.pth`` task after task."""
    explorer = Explorer.remote(LammpsExploreConfig(), ["Cu"], 1, "pt")
    pids = set()
    for k in range(2):
        d = tmp_path / f"task.000.{k:06d}"
        make_task(d, tiny_pt_models[0], 300 + 300 * k)
        info, table = ray.get(explorer.run.remote(str(d), d.name, 0, str(d / "traj.parquet")))
        assert info.error is None, info.error
        assert table.column("step").to_pylist() == list(range(0, 101, 10))
        pids.add(info.pid)
    assert len(pids) == 1


def test_lammps_error_keeps_frames_and_reports(local_ray, tiny_models, tmp_path):
    d = tmp_path / "task.000.000000"
    make_task(d, tiny_models[0], 300)
    text = (d / "in.lammps").read_text().replace("run             100",
                                                  "run 50\nfix 2 all bogus_style\nrun 50")
    (d / "in.lammps").write_text(text)
    info, table = ray.get(Explorer.remote(LammpsExploreConfig(), ["Cu"]).run.remote(
        str(d), d.name, 0, str(d / "traj.parquet")))
    assert info.error and "bogus_style" in info.error
    assert table.column("step").to_pylist() == list(range(0, 51, 10))


COLVARS_TEMPLATE = """\
units metal
boundary p p p
atom_style atomic
atom_modify map array
read_data conf.lmp
velocity all create V_TEMP ${RAYGEN_SEED} dist gaussian
fix 1 all nvt temp V_TEMP V_TEMP 0.1
fix cv all colvars colvars.in output cv seed ${RAYGEN_SEED}
timestep 0.002
run 100
"""
# metadynamics on the distance between two atoms: hills every 10 steps, V_HEIGHT eV
COLVARS_INPUT = """\
colvarsTrajFrequency 10
colvar {
  name d12
  distance {
    group1 { atomNumbers 1 }
    group2 { atomNumbers 2 }
  }
}
metadynamics {
  colvars d12
  hillWeight V_HEIGHT
  hillWidth 2.0
  newHillFrequency 10
}
"""


def test_a_colvars_template_runs_enhanced_sampling_and_streams_its_trajectory(
        local_ray, tiny_models, tmp_path):
    """raygen's own template way (no reserved line): the model, masses and dump are put
    in, the COLVARS file in template.files is revised per task, LAMMPS's COLVARS package
    biases the MD, and the frames come back as from any task."""
    from types import SimpleNamespace

    from raygen.config.schema import LammpsTemplate
    from raygen.engines.lammps import LammpsEngine, lammps_packages
    from raygen.state.schedule import expand_job

    assert "COLVARS" in lammps_packages() and "PLUMED" not in lammps_packages()
    (tmp_path / "in.tpl").write_text(COLVARS_TEMPLATE)
    (tmp_path / "colvars.in").write_text(COLVARS_INPUT)
    job = SimpleNamespace(sys_idx=[0], temps=[], press=[], ensemble="nvt", nsteps=0,
                          trj_freq=10, confs_per_sys=None, rev_mat={
                              "lmp": {"V_TEMP": [300, 900]}, "plm": {"V_HEIGHT": [0.05]}},
                          sys_rev_mat=None, template=LammpsTemplate(
                              lmp=str(tmp_path / "in.tpl"),
                              files=[str(tmp_path / "colvars.in")]))
    tasks = expand_job(job, [1], iteration=0)
    assert len(tasks) == 2
    engine = LammpsEngine(LammpsExploreConfig(), ["Cu"])
    explorer = Explorer.remote(LammpsExploreConfig(), ["Cu"])
    atoms = cu_frames(n_perturb=1, md_steps=0)[0]
    for t in tasks:
        d = tmp_path / t.task_id
        d.mkdir()
        engine.write_task(d, atoms, t, tiny_models)
        assert "hillWeight 0.05" in (d / "colvars.in").read_text()
        assert json.loads((d / "job.json").read_text())["V_HEIGHT"] == 0.05
        info, table = ray.get(explorer.run.remote(str(d), t.task_id, 0,
                                                  str(d / "traj.parquet")))
        assert info.error is None, info.error
        assert table.column("step").to_pylist() == list(range(0, 101, 10))
        traj = (d / "cv.colvars.traj").read_text().split("\n")
        assert traj[0].split()[1:3] == ["step", "d12"]  # the bias's own record
        hills = (d / "cv.colvars.state").read_text()
        assert hills.count("hill {") >= 9, "a hill every 10 steps"
    temps = [json.loads((tmp_path / t.task_id / "job.json").read_text())["V_TEMP"]
             for t in tasks]
    assert temps == [300, 900]


def test_a_pimd_task_runs_its_beads_as_lammps_partitions(local_ray, tiny_models, tmp_path):
    """nbeads=2: two MPI ranks, one bead each (fix pimd/langevin on -p 2x1), started by the
    explorer; both beads' frames come back as one table with DP-GEN's step offsets, and
    the beads are different configurations of the ring polymer."""
    from types import SimpleNamespace

    import numpy as np

    from raygen.config.schema import LammpsTemplate
    from raygen.engines.lammps import LammpsEngine
    from raygen.state.schedule import expand_job

    job = SimpleNamespace(sys_idx=[0], temps=[300], press=[1.0], ensemble="npt", nsteps=60,
                          trj_freq=10, confs_per_sys=None, nbeads=2, rev_mat=None,
                          sys_rev_mat=None, template=LammpsTemplate())
    (task,) = expand_job(job, [1], iteration=0)
    d = tmp_path / task.task_id
    d.mkdir()
    LammpsEngine(LammpsExploreConfig(), ["Cu"]).write_task(
        d, cu_frames(n_perturb=1, md_steps=0)[0], task, tiny_models)
    info, table = ray.get(Explorer.remote(LammpsExploreConfig(), ["Cu"]).run.remote(
        str(d), task.task_id, 0, str(d / "traj.parquet")))
    assert info.error is None, info.error
    steps = list(range(0, 61, 10))
    assert table.column("step").to_pylist() == steps + [s + 61 for s in steps]
    last = [np.asarray(table.column("positions")[k].as_py()) for k in (6, 13)]
    assert not np.allclose(last[0], last[1]), "the two beads' last frames differ"
    assert sorted(p.name for p in d.glob("log.lammps.*")) == ["log.lammps.0", "log.lammps.1"]
