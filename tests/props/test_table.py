"""Judging a property: errors relative to the quantity's own size, the ensemble's
spread, and quantities that are zero by construction."""

from raygen.config.props import TOLERANCES
from raygen.props.table import compare, markdown, tolerance_problem


def found(key, ref, models):
    out = {"reference": {"p": {"scalars": {key: ref}}}}
    for k, v in enumerate(models):
        out[f"model_{k}"] = {"p": {"scalars": {key: v}}}
    return out


def row(key, ref, models, tolerances=TOLERANCES):
    return compare(found(key, ref, models), dict(tolerances))[0]


def test_a_phase_energy_is_judged_against_its_own_size():
    # fcc-bcc 0.033 eV/atom: an error of 0.025 (76 %) passed under the old 0.03 eV/atom
    assert row("eos.bcc.dE_eV_per_atom", 0.033, [0.058, 0.058])["pass"] is False
    assert row("eos.bcc.dE_eV_per_atom", 0.033, [0.035, 0.036])["pass"] is True
    # a tiny difference (hcp-fcc, ~1 meV/atom) is judged against the 2 meV/atom floor
    assert row("eos.hcp.dE_eV_per_atom", -0.00094, [-0.0002, -0.0003])["pass"] is True
    assert row("eos.hcp.dE_eV_per_atom", -0.00094, [0.004, 0.004])["pass"] is False


def test_a_mean_near_the_reference_does_not_hide_a_large_spread():
    # sc B0 85 +- 52 GPa against 86: the mean is right, the members disagree
    r = row("eos.sc.B0_GPa", 86.0, [33.0, 137.0])
    assert r["pass"] is False and r["fails_on"] == "spread"
    assert "(spread)" in markdown([r])
    assert row("eos.sc.B0_GPa", 86.0, [85.0, 87.0])["pass"] is True


def test_zero_by_construction_gets_no_relative_error_and_no_verdict():
    r = row("eos.fcc.dE_eV_per_atom", 0.0, [0.0, 0.0])
    assert r["rel_error"] is None and r["pass"] is None and r["note"] == "zero by construction"
    assert "zero by construction" in markdown([r])


def test_tolerance_strings_are_checked():
    assert tolerance_problem("3%") is None and tolerance_problem("10% or 0.002") is None
    assert tolerance_problem("0.03") is None
    assert "not a tolerance" in tolerance_problem("three percent")
    assert "negative" in tolerance_problem("-1%")
