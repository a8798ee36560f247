"""`raygen new`: a starting experiment from a user's own structure files, written where
Hydra finds it, with the line it needs, checked as a run would check it — and run."""

import subprocess
import sys

import pytest
import yaml

from raygen.cli.new import main

CU4 = "Cu\n1.0\n3.6 0 0\n0 3.6 0\n0 0 3.6\nCu\n4\nDirect\n0 0 0\n0.5 0.5 0\n0.5 0 0.5\n0 0.5 0.5\n"
NI1 = "Ni\n1.0\n2.5 0 0\n0 2.5 0\n0 0 2.5\nNi\n1\nDirect\n0 0 0\n"


@pytest.fixture
def files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "POSCAR_fcc").write_text(CU4)
    (tmp_path / "confs").mkdir()
    for k in range(2):
        (tmp_path / "confs" / f"POSCAR_{k}").write_text(CU4)
    return tmp_path


def test_writes_a_checked_experiment_from_structure_files(files, capsys):
    assert main(["mycu", "POSCAR_fcc", "--confs", "confs/POSCAR_*"]) == 0
    out = capsys.readouterr().out
    assert "python -m raygen --config-dir experiments +exp=mycu" in out
    path = files / "experiments" / "exp" / "mycu.yaml"
    text = path.read_text()
    assert text.startswith("# @package _global_\n")
    exp = yaml.safe_load(text)
    assert exp["type_map"] == ["Cu"]  # read from the files
    file_sys, confs_sys = exp["systems"]
    assert file_sys["structure"] == "file" and file_sys["path"] == str(files / "POSCAR_fcc")
    assert file_sys["supercell"] == [2, 2, 2]  # 4 atoms -> 32
    assert confs_sys["confs"] == str(files / "confs" / "POSCAR_*")
    assert exp["init"]["systems"] == [file_sys["name"]]
    assert [j["temps"] for j in exp["explore"]["jobs"]] == [[300.0], [600.0], [900.0]]
    assert main(["mycu", "POSCAR_fcc"]) == 2  # never overwritten unasked
    assert main(["mycu", "POSCAR_fcc", "--force"]) == 0


def test_refuses_what_cannot_run_and_names_what_is_missing(files, capsys):
    (files / "POSCAR_ni").write_text(NI1)
    assert main(["x", "no_such_file"]) == 2
    assert main(["x", "--confs", "nothing/*"]) == 2
    assert main(["x", "POSCAR_fcc", "--type-map", "Cu", "Zr"]) == 2  # EMT has no Zr
    assert "EMT knows" in capsys.readouterr().err
    # a DFT code: written, and the settings it still needs are listed
    assert main(["ni", "POSCAR_ni", "--label", "vasp"]) == 1  # no INCAR, no POTCARs yet
    out = capsys.readouterr().out
    assert "before it can run, set:" in out and "label." in out
    exp = yaml.safe_load((files / "experiments" / "exp" / "ni.yaml").read_text())
    assert exp["init"]["md_steps"] == 0 and exp["systems"][0]["relax"] is False


@pytest.mark.slow
def test_the_written_experiment_runs(files):
    assert main(["mycu", "POSCAR_fcc", "--temps", "300", "--nsteps", "200"]) == 0
    proc = subprocess.run([sys.executable, "-m", "raygen", "--config-dir", "experiments",
                           "+exp=mycu", "max_iter=1", "train.numb_steps=200", "progress=false"],
                          cwd=files, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert len(list((files / "mycu_run" / "models").glob("graph.*.pb"))) == 4
    assert "system POSCAR_fcc: 32 atoms (Cu32)" in (files / "mycu_run" / "raygen.log").read_text()
