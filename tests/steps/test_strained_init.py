"""Strained cells in the initial data (``init.strains``): the six Voigt strains at
plus and minus each size, the cells an elastic-constant fit visits, labelled."""

import dpdata
import numpy as np
import pytest
import ray
from ase.build import bulk
from omegaconf import OmegaConf

from raygen.config.schema import InitConfig, RaygenConfig, SystemConfig
from raygen.science.structures import VOIGT, strain_cell, strained_copies
from raygen.state.workdir import RunDir
from raygen.steps.prepare import prepare_confs, prepare_init_data


def strain_of(before, after) -> np.ndarray:
    """The symmetric small-strain tensor that takes ``before``'s cell to ``after``'s."""
    deform = np.linalg.solve(before.cell.array, after.cell.array)  # I + eps
    return deform - np.eye(3)


@pytest.mark.parametrize("voigt", range(6))
def test_each_voigt_component_is_applied_alone(voigt):
    cu = bulk("Cu", "fcc", a=3.6, cubic=True)
    eps = strain_of(cu, strain_cell(cu, voigt, 0.02))
    i, j = VOIGT[voigt]
    want = np.zeros((3, 3))
    want[i, j] = want[j, i] = 0.02 if i == j else 0.01  # engineering shear: 2 eps_ij
    assert np.allclose(eps, want)
    assert np.allclose(eps, eps.T)


def test_twelve_cells_per_size_atoms_carried_along():
    cu = bulk("Cu", "fcc", a=3.6, cubic=True)
    copies = strained_copies(cu, [0.01, 0.02])
    assert len(copies) == 24
    sizes = sorted(round(float(np.abs(strain_of(cu, c)).max()), 6) for c in copies)
    assert sizes == [0.005] * 6 + [0.01] * 12 + [0.02] * 6
    for c in copies:  # fractional positions unchanged
        assert np.allclose(c.get_scaled_positions(), cu.get_scaled_positions())


@pytest.fixture
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def test_initial_data_holds_the_strained_cells_labelled(tmp_path, local_ray):
    def run(strains, name):
        cfg = OmegaConf.structured(RaygenConfig(
            workdir=str(tmp_path / name),
            systems=[SystemConfig(name="fcc", crystal="fcc", a=3.6, supercell=[1, 1, 1],
                                  n_confs=1)],
            init=InitConfig(systems=["fcc"], scales=[1.0], strains=strains, n_perturb=1,
                            atom_pert=0.0, cell_pert=0.0, md_steps=0)))
        rd = RunDir(tmp_path / name)
        prepare_confs(cfg, rd)
        return dpdata.LabeledSystem(str(prepare_init_data(cfg, rd)[0]), fmt="deepmd/npy")

    plain, strained = run([], "plain"), run([0.02], "strained")
    assert (len(plain), len(strained)) == (1, 13)
    # relaxed fcc: no stress; the strained cells carry the stress EMT gives them
    assert np.abs(plain["virials"]).max() < 0.05
    vir = strained["virials"][1:]
    assert (np.abs(vir).max(axis=(1, 2)) > 0.05).all()
    # +eps and -eps of each component: the strained component's virial flips sign
    # with about the same size (linear elasticity at 2 %)
    for v, (i, j) in enumerate(VOIGT):
        plus, minus = vir[2 * v][i, j], vir[2 * v + 1][i, j]
        assert plus * minus < 0 and abs(plus + minus) < 0.15 * abs(plus), (v, plus, minus)
