"""EMT as both the "model" and the reference: the two sides run through one code
path, so every error is exactly zero; and the EMT values agree with independent
computations (ase.eos directly, two strain sizes, the vacancy in two cell sizes)."""

import dataclasses

import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.emt import EMT
from omegaconf import OmegaConf

from raygen.config.props import PropsConfig
from raygen.labelers.emt import EmtLabelConfig
from raygen.props.calculators import reference_spec
from raygen.props.run import run_props

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(scope="module")
def ray_local():
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def emt_as_model(cfg, out):
    label = OmegaConf.structured(EmtLabelConfig)
    ref = reference_spec(label)
    return run_props([], cfg, label, "Cu", out, ray_init=False,
                     model_calcs=[dataclasses.replace(ref, name="model.000")])


def scalars(record, calc="reference"):
    out = {}
    for prop in record["calculators"][calc].values():
        out.update(prop.get("scalars", {}))
    return out


def test_every_property_of_emt_against_itself_is_exact(ray_local, tmp_path):
    rec = emt_as_model(PropsConfig(), tmp_path / "p")
    assert not rec["errors"]
    assert {r["property"].split(".")[0] for r in rec["table"]} == {
        "equilibrium", "eos", "elastic", "vacancy", "interstitial", "surface",
        "stacking_fault", "phonon"}
    for row in rec["table"]:
        assert row["abs_error"] == 0.0, row
        assert row["pass"] in (True, None)
    s = scalars(rec)
    # named interstitial sites each reported; (100), (110), (111) relaxed and unrelaxed
    for site in ("octahedral", "tetrahedral", "dumbbell_100"):
        assert f"interstitial.{site}.E_f_eV" in s
    for hkl in ("100", "110", "111"):
        assert s[f"surface.{hkl}.gamma_J_m2"] <= s[f"surface.{hkl}.gamma_unrelaxed_J_m2"] + 1e-9
    assert s["vacancy.natoms"] >= 100
    assert s["phonon.imaginary"] == 0.0 and s["phonon.max_freq_THz"] > 5
    # outputs: versioned JSON without absolute paths, Markdown, the figures
    text = (tmp_path / "p" / "props.json").read_text()
    assert rec["format"] == "raygen.props/1" and str(tmp_path) not in text
    assert "| elastic.C11_GPa |" in (tmp_path / "p" / "props.md").read_text()
    for fig in ("eos.png", "phonon.png", "stacking_fault.png", "parity.png"):
        assert fig in rec["figures"] and (tmp_path / "p" / fig).stat().st_size > 10_000
    # a rerun is free: every point comes from the cache
    again = emt_as_model(PropsConfig(), tmp_path / "p")
    assert again["points_computed"] == 0 and again["points_cached"] == rec["points_computed"]


def test_emt_values_agree_with_independent_computations(ray_local, tmp_path):
    from ase.eos import calculate_eos
    from ase.units import GPa

    cfg = PropsConfig(properties=["equilibrium", "eos", "elastic", "vacancy"],
                      phases=["fcc", "bcc"])
    s = scalars(emt_as_model(cfg, tmp_path / "a"))
    # the EOS fit against ase.eos run on its own
    a0 = s["equilibrium.a_A"]
    atoms = bulk("Cu", "fcc", a=a0, cubic=True)
    atoms.calc = EMT()
    eos = calculate_eos(atoms, npoints=11, eps=0.04)
    v0, _, b = eos.fit()
    assert s["eos.fcc.V0_A3_per_atom"] == pytest.approx(v0 / 4, rel=2e-3)
    assert s["eos.fcc.B0_GPa"] == pytest.approx(b / GPa, rel=0.02)
    # the bulk modulus from the elastic constants agrees with the EOS
    assert s["elastic.B_V_GPa"] == pytest.approx(s["eos.fcc.B0_GPa"], rel=0.02)
    # elastic constants from two strain sizes agree
    small = dataclasses.replace(cfg, properties=["elastic"], elastic_strains=[-0.002, 0.002])
    s2 = scalars(emt_as_model(small, tmp_path / "b"))
    for c in ("C11", "C12", "C44"):
        assert s2[f"elastic.{c}_GPa"] == pytest.approx(s[f"elastic.{c}_GPa"], rel=0.01)
    # the vacancy converged with cell size: 108 atoms vs 256
    big = dataclasses.replace(cfg, properties=["vacancy"], defect_min_atoms=250)
    s3 = scalars(emt_as_model(big, tmp_path / "c"))
    assert s3["vacancy.natoms"] == 256
    assert s3["vacancy.E_f_eV"] == pytest.approx(s["vacancy.E_f_eV"], abs=0.02)
    # EMT's known values for Cu (ASE's parametrisation): a = 3.59 Å, E_vf ~ 1.2 eV
    assert a0 == pytest.approx(3.59, abs=0.01)
    assert 1.0 < s["vacancy.E_f_eV"] < 1.4
    assert np.isclose(s["elastic.born_stable"], 1.0)
