"""Bad input to the property tests: a clear error naming the key, before any calculation."""

import subprocess
import sys

import pytest

from raygen.config.props import PropsConfig
from raygen.props.runner import check


def test_unknown_property_is_named():
    with pytest.raises(ValueError, match=r"props.properties: unknown bulk_modulus"):
        check(PropsConfig(properties=["eos", "bulk_modulus"]), "fcc")


def test_a_phase_raygen_cannot_build_is_named():
    with pytest.raises(ValueError, match=r"props.phases: rocksalt"):
        check(PropsConfig(phases=["fcc", "rocksalt"]), "fcc")


def test_properties_of_another_crystal_are_refused():
    with pytest.raises(ValueError) as err:
        check(PropsConfig(crystal="bcc", surfaces=["100", "0001"]), "bcc")
    text = str(err.value)
    assert "interstitial is defined for a fcc ground state, not bcc" in text
    assert "stacking_fault is defined for a fcc ground state" in text
    assert "props.surfaces: 0001: no ASE slab builder for bcc" in text


def test_unknown_interstitial_site():
    with pytest.raises(ValueError, match=r"props.interstitial_sites: crowdion"):
        check(PropsConfig(interstitial_sites=["octahedral", "crowdion"]), "fcc")


def run_cli(*args, cwd):
    return subprocess.run([sys.executable, "-m", "raygen.props", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


def test_cli_missing_models_directory(tmp_path):
    proc = run_cli(str(tmp_path / "nowhere"), cwd=tmp_path)
    assert proc.returncode == 2
    assert "nowhere: no such run or models directory" in proc.stderr
    (tmp_path / "empty").mkdir()
    proc = run_cli(str(tmp_path / "empty"), cwd=tmp_path)
    assert proc.returncode == 2 and "no frozen models" in proc.stderr


def test_cli_bad_override_and_program_reference(tmp_path):
    models = tmp_path / "m"
    models.mkdir()
    (models / "graph.000.pb").write_bytes(b"not read before the checks")
    proc = run_cli(str(models), "props.properties=[eos,nonsense]", cwd=tmp_path)
    assert proc.returncode == 2 and "props.properties: unknown nonsense" in proc.stderr
    proc = run_cli(str(models), "props.fmax=abc", cwd=tmp_path)
    assert proc.returncode == 2 and "props.fmax" in proc.stderr
    proc = run_cli(str(models), "label=cp2k", cwd=tmp_path)
    assert proc.returncode == 2 and "label=cp2k: property tests relax structures" in proc.stderr
    assert not (tmp_path / "props").exists() or not any((tmp_path / "props").rglob("*.json"))
