"""Systems given as ready starting configurations (DP-GEN's sys_configs globs): used
exactly as given, no relaxation or perturbation, every frame of every file."""

import subprocess
import sys

import numpy as np
from ase.build import bulk
from ase.io import read, write
from omegaconf import OmegaConf

from raygen.config.schema import RaygenConfig, SystemConfig
from raygen.state.workdir import RunDir
from raygen.steps.prepare import prepare_confs


def test_given_confs_are_used_as_they_are(tmp_path):
    rng = np.random.default_rng(0)
    for k in range(3):
        a = bulk("Cu", "fcc", a=3.6, cubic=True)
        a.rattle(0.05, seed=k)
        write(tmp_path / f"POSCAR.{k:03d}", a, format="vasp")
    extra = [bulk("Cu", "bcc", a=2.87, cubic=True) for _ in range(2)]
    for e in extra:
        e.positions += rng.normal(scale=0.01, size=e.positions.shape)
    write(tmp_path / "more.extxyz", extra)
    cfg = OmegaConf.structured(RaygenConfig(workdir=str(tmp_path / "run"), systems=[
        SystemConfig(name="fcc", confs=str(tmp_path / "POSCAR.*")),
        SystemConfig(name="bcc", confs=str(tmp_path / "more.extxyz"))]))
    rd = RunDir(tmp_path / "run")
    confs = prepare_confs(cfg, rd)
    assert [len(confs[0]), len(confs[1])] == [3, 2]
    for k in range(3):
        given = read(tmp_path / f"POSCAR.{k:03d}")
        got = read(confs[0][k])
        assert np.allclose(got.positions, given.positions, atol=1e-8)
        assert np.allclose(got.cell.array, given.cell.array, atol=1e-8)
    assert np.allclose(read(confs[1][1]).positions, extra[1].positions)
    # a restart finds them and writes nothing again
    before = {p: p.stat().st_mtime_ns for p in confs[0] + confs[1]}
    prepare_confs(cfg, rd)
    assert {p: p.stat().st_mtime_ns for p in before} == before


def test_a_glob_that_matches_nothing_is_named(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "raygen", "+exp=cu_smoke",
                           f"workdir={tmp_path / 'run'}", f"systems.0.confs={tmp_path}/nothing.*"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    assert f"systems[0] (fcc).confs: no file matches {tmp_path}/nothing.*" in proc.stderr
