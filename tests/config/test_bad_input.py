"""Bad input refused before Ray starts, naming the key and the file (structure files
read, lattice constants, MD settings, seeds, bounds that protect the machine, the
custom labeler's files and formats), and each cause reported once."""

import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_module
from omegaconf import open_dict

from raygen.config.paths import resolve_paths
from raygen.config.schema import register_configs
from raygen.science.structures import build_system
from raygen.validate import ConfigError, validate

register_configs()

CU4 = "Cu\n1.0\n3.6 0 0\n0 3.6 0\n0 0 3.6\nCu\n4\nDirect\n0 0 0\n0.5 0.5 0\n0.5 0 0.5\n0 0.5 0.5\n"
NI1 = "Ni\n1.0\n3.5 0 0\n0 3.5 0\n0 0 3.5\nNi\n1\nDirect\n0 0 0\n"


def smoke(*overrides, edit=None, tmp=None):
    with initialize_config_module(version_base=None, config_module="raygen.conf"):
        cfg = compose(config_name="config",
                      overrides=["+exp=cu_smoke", f"workdir={tmp or '/tmp/x'}/run", *overrides])
    if edit:
        with open_dict(cfg):
            edit(cfg)
    resolve_paths(cfg)
    return cfg


def problems(*overrides, edit=None, tmp=None) -> list[str]:
    try:
        validate(smoke(*overrides, edit=edit, tmp=tmp))
    except ConfigError as err:
        return err.problems
    return []


def as_file(path):
    def edit(cfg):
        cfg.systems[0].structure = "file"
        cfg.systems[0].path = str(path)
    return edit


def test_structure_files_are_read_before_the_start(tmp_path):
    (tmp_path / "POSCAR_Ni").write_text(NI1)
    (tmp_path / "POSCAR_bad").write_text("garbage\nnot a POSCAR\n")
    (tmp_path / "dir").mkdir()
    (tmp_path / "POSCAR").write_text(CU4)
    got = problems(edit=as_file(tmp_path / "POSCAR_Ni"), tmp=tmp_path)
    assert any("systems[0] (fcc).path" in p and "Ni not in type_map" in p and
               str(tmp_path / "POSCAR_Ni") in p for p in got), got
    assert any("not a structure file ASE can read" in p
               for p in problems(edit=as_file(tmp_path / "POSCAR_bad"), tmp=tmp_path))
    assert any("is not a file" in p
               for p in problems(edit=as_file(tmp_path / "dir"), tmp=tmp_path))
    assert problems(edit=as_file(tmp_path / "POSCAR"), tmp=tmp_path) == []

    def confs_ni(cfg):
        cfg.systems[1].confs = str(tmp_path / "POSCAR_N*")
    assert any("systems[1] (bcc).confs" in p and "Ni not in type_map" in p
               for p in problems(edit=confs_ni, tmp=tmp_path))


def test_supercell_applies_to_a_structure_file(tmp_path):
    (tmp_path / "POSCAR").write_text(CU4)
    cfg = smoke(edit=as_file(tmp_path / "POSCAR"), tmp=tmp_path)
    cfg.systems[0].supercell = None
    assert len(build_system(cfg.systems[0])) == 4  # by default: the file as given
    cfg.systems[0].supercell = [2, 2, 2]
    assert len(build_system(cfg.systems[0])) == 32
    # crystals keep their 2 x 2 x 2 default
    assert len(build_system(cfg.systems[1])) == 16


@pytest.mark.parametrize("edit, key", [
    (lambda c: setattr(c.systems[0], "a", 0.0), "systems[0] (fcc).a"),
    (lambda c: setattr(c.systems[0], "a", -3.6), "systems[0] (fcc).a"),
    (lambda c: setattr(c.init, "md_temperature", -5.0), "init.md_temperature"),
    (lambda c: setattr(c.init, "md_timestep_fs", -1.0), "init.md_timestep_fs"),
    (lambda c: setattr(c.init, "scales", []), "init.scales"),
    (lambda c: setattr(c.select, "seed", -1), "select.seed"),
    (lambda c: setattr(c.explore, "model_devi_skip", -1), "explore.model_devi_skip"),
])
def test_values_that_would_fail_late_are_refused(edit, key):
    got = problems(edit=edit)
    assert len(got) == 1 and got[0].startswith(key), got


@pytest.mark.parametrize("overrides, says", [
    (["explore.early_stop.failed_frames=0"], "explore.early_stop.failed_frames: must be >= 1"),
    (["explore.early_stop.failed_ratio=1.5"], "explore.early_stop.failed_ratio: must be in"),
    (["explore.early_stop.failed_frames=3", "explore.early_stop.check_every=0"],
     "explore.early_stop.check_every: must be >= 1"),
    (["explore.early_stop.restarts=2"], "explore.early_stop.restarts: 2 restarts, but no rule"),
    (["explore.early_stop.failed_frames=3", "explore.jobs.1.nbeads=2",
      "explore.jobs.1.ensemble=nvt"], "explore.early_stop: job 1 is PIMD"),
    (["explore.grow.enabled=true", "explore.grow.x4_below=0.3"],
     "explore.grow: x4_below (0.3) and x2_below (0.2) must"),
    (["explore.grow.enabled=true", "explore.grow.max_nsteps=0"],
     "explore.grow.max_nsteps: must be >= 1"),
    (["select.sanity.volume_ratio=0.5"], "select.sanity.volume_ratio: must be > 1"),
    (["select.sanity.max_tilt_deg=95"], "select.sanity.max_tilt_deg: must be < 90"),
])
def test_early_stop_and_grow_settings_are_checked(overrides, says):
    got = problems(*overrides)
    assert len(got) == 1 and got[0].startswith(says), got
    assert problems("explore.early_stop.failed_frames=3",
                    "explore.early_stop.restarts=1") == []


def test_early_stop_is_refused_for_a_template_job(tmp_path):
    tpl = tmp_path / "in.tpl"
    tpl.write_text("units metal\nread_data conf.lmp\npair_style deepmd\npair_coeff * *\n"
                   "fix 1 all nvt temp 300 300 0.1\nrun 100\n")
    got = problems("explore.early_stop.failed_frames=3", f"+explore.jobs.0.template.lmp={tpl}")
    assert any(p.startswith("explore.early_stop: job 0 runs the LAMMPS template") and
               str(tpl) in p for p in got), got


@pytest.mark.parametrize("edit, key", [
    (lambda c: setattr(c.systems[0], "n_confs", 10**9), "systems[0] (fcc).n_confs"),
    (lambda c: setattr(c.train, "numb_steps", 10**12), "train.numb_steps"),
    (lambda c: setattr(c.explore.jobs[0], "nsteps", 10**12), "explore.jobs[0].nsteps"),
    (lambda c: setattr(c.explore, "dt", 1e6), "explore.dt"),
])
def test_bounds_protect_the_machine_unless_lifted(edit, key):
    got = problems(edit=edit)
    assert len(got) == 1 and got[0].startswith(key) and "no_limits=true" in got[0], got
    assert problems("no_limits=true", edit=edit) == []


def test_relax_asked_of_given_configurations_is_refused(tmp_path):
    (tmp_path / "POSCAR").write_text(CU4)

    def edit(cfg):
        cfg.systems[0].confs = str(tmp_path / "POSCAR")
        cfg.systems[0].relax = True
    got = problems(edit=edit, tmp=tmp_path)
    assert any(p.startswith("systems[0] (fcc).relax") and "never relaxed" in p for p in got)
    cfg = smoke(edit=lambda c: setattr(c.systems[0], "confs", str(tmp_path / "POSCAR")))
    assert problems(edit=lambda c: setattr(c.systems[0], "confs", str(tmp_path / "POSCAR")),
                    tmp=tmp_path) == [] and cfg.systems[0].relax is None


@pytest.mark.parametrize("key, value", [("input_file", "/tmp/elsewhere.xyz"),
                                        ("output_file", "../../outside.xyz"),
                                        ("output_file", "stdout.log")])
def test_custom_labeler_files_stay_inside_the_task_directory(key, value):
    got = problems("label=custom", "label.command=cat", f"label.{key}={value}",
                   "init.md_steps=0", edit=lambda c: [setattr(s, "relax", False)
                                                      for s in c.systems])
    assert len(got) == 1 and got[0].startswith(f"label.{key}:"), got


def test_custom_labeler_formats_are_asean():
    got = problems("label=custom", "label.command=cat", "label.input_fmt=nonsense",
                   "label.output_fmt=png", "init.md_steps=0",
                   edit=lambda c: [setattr(s, "relax", False) for s in c.systems])
    assert [p.split(":")[0] for p in got] == ["label.input_fmt", "label.output_fmt"], got


def test_one_cause_is_reported_once():
    # a per-system list too short, read by every job: one line, not one per job
    got = problems("select.f_trust_lo=[0.05]")
    assert len(got) == 1 and "select.f_trust_lo" in got[0], got
    # a program labeler and the default relax of every system: one line naming both
    got = problems("label=custom", "label.command=cat", "init.md_steps=0")
    relax = [p for p in got if ".relax" in p]
    assert len(relax) == 1 and "systems[0], systems[1].relax" in relax[0], got


def run_cli(*args, cwd):
    return subprocess.run([sys.executable, "-m", "raygen", *args], capture_output=True,
                          text=True, timeout=120, cwd=cwd)


@pytest.mark.parametrize("content, says", [
    ("this is prose about my run\n", "holds a str, not a mapping"),
    ("- a\n- b\n", "holds a list, not a mapping"),
    ("", "is empty, not a mapping"),
    (b"\x7fELF\x02\x01\x01\x00\xd0\xff\xfe", "not a text file"),
    ("type_map: [Cu]\n", "must start with the line `# @package _global_`"),
])
def test_an_experiment_file_that_is_not_one_is_one_line(tmp_path, content, says):
    (tmp_path / "exp").mkdir()
    f = tmp_path / "exp" / "mine.yaml"
    f.write_bytes(content if isinstance(content, bytes) else content.encode())
    proc = run_cli("--config-dir", str(tmp_path), "+exp=mine", cwd=tmp_path)
    assert proc.returncode == 2 and says in proc.stderr and str(f) in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_missing_experiment_and_a_misspelt_key_exit_2(tmp_path):
    proc = run_cli("+exp=no_such_experiment", cwd=tmp_path)
    assert proc.returncode == 2 and "known: cu, cu_dft" in proc.stderr
    assert "--config-dir" in proc.stderr
    proc = run_cli("+exp=cu_smoke", "selct.seed=1", f"workdir={tmp_path}/run", cwd=tmp_path)
    assert proc.returncode == 2 and "selct" in proc.stderr
    assert not (tmp_path / "run").exists()


def test_the_shipped_experiments_still_pass_the_file_check():
    from raygen.__main__ import check_user_yaml

    conf = Path(__file__).resolve().parents[2] / "conf"
    names = sorted(p.stem for p in (conf / "exp").glob("*.yaml"))
    assert check_user_yaml([f"+exp={','.join(names)}"]) == []
