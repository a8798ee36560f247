"""PIMD (``nbeads``): DP-GEN's input for fix pimd/langevin, the beads' frames merged as
DP-GEN merges its per-bead ``model_devi`` files, and what is refused."""

from types import SimpleNamespace

import numpy as np
import pytest

from raygen.config.schema import LammpsTemplate, pimd_problems
from raygen.engines.lammps_input import lammps_input, merge_beads
from raygen.science.frames import frames_table

KW = dict(model="m.pb", type_map=["Cu"], temp=300.0, press=1.0, nsteps=100, trj_freq=10,
          dt=0.001, tau_t=0.1, tau_p=0.5, seed=40)


@pytest.mark.parametrize("ensemble, barostat", [("nvt", None), ("npt", "BZP iso 1.0"),
                                                ("npt-aniso", "BZP aniso 1.0")])
def test_the_pimd_input_is_dpgens(ensemble, barostat):
    lines = lammps_input(ensemble=ensemble, nbeads=4, **KW).splitlines()
    assert "variable        ibead world 1 2 3 4" in lines
    assert "variable        bseed world 40 41 42 43" in lines
    fix = next(ln for ln in lines if "pimd/langevin" in ln)
    assert "fmmode physical ensemble " + ensemble.split("-")[0] in fix
    assert "integrator obabo thermostat PILE_L ${bseed} temp 300.0 tau 0.1" in fix
    assert (f"barostat {barostat} taup 0.5" in fix) if barostat else "barostat" not in fix
    assert any(ln.startswith("velocity") and " create 1200.0 " in ln for ln in lines)
    assert "dump            1 all custom 10 traj.dump.${ibead} id type x y z" in lines
    assert "atom_modify     map yes" in lines
    # classical MD is as before
    assert "pimd" not in lammps_input(ensemble=ensemble, **KW)


def test_beads_are_merged_with_dpgens_step_offsets():
    rng = np.random.default_rng(0)
    steps = np.arange(0, 101, 10)
    beads = [frames_table("task.000.000000", 0, steps, np.tile(np.eye(3) * 7, (11, 1, 1)),
                          rng.normal(size=(11, 4, 3)), np.zeros(4, dtype=int))
             for _ in range(3)]
    merged = merge_beads(beads, nsteps=100)
    got = merged.column("step").to_pylist()
    # DP-GEN: bead k's steps + k * (last_step + 1), last_step = 100
    assert got == [*steps, *(steps + 101), *(steps + 202)]
    assert len(set(got)) == merged.num_rows == 33


def job(**kw):
    base = dict(nbeads=4, ensemble="nvt", nsteps=100, trj_freq=10,
                template=LammpsTemplate())
    base.update(kw)
    return SimpleNamespace(**base)


@pytest.mark.parametrize("kw, expect", [
    ({"nbeads": 0}, "nbeads: must be >= 1"),
    ({"ensemble": "nve"}, "ensemble: nve with nbeads"),
    ({"ensemble": "npt-tri"}, "ensemble: npt-tri with nbeads"),
    ({"trj_freq": 30}, "trj_freq: 30 must divide nsteps 100"),
])
def test_what_pimd_refuses_is_named(kw, expect):
    problems = pimd_problems(job(**kw), "explore.jobs[1]", templated=False)
    assert any(p.startswith("explore.jobs[1].") and expect in p for p in problems), problems
    assert pimd_problems(job(), "explore.jobs[1]", templated=False) == []
    assert "not with a LAMMPS template" in pimd_problems(job(), "k", templated=True)[0]
