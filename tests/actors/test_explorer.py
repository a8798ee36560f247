"""Explorer actors: real LAMMPS + DeePMD, many tasks in one process."""

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
