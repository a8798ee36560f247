"""Configs compose from conf/ and bad input is refused before any work starts."""

import os
from pathlib import Path

import pytest
from hydra import compose, initialize_config_module
from hydra.errors import ConfigCompositionException

from raygen.config.schema import register_configs
from raygen.validate import ConfigError, validate
from tests.conftest import REPO

register_configs()
EXPERIMENTS = sorted(p.stem for p in (REPO / "conf" / "exp").glob("*.yaml"))


def cfg_with(*overrides):
    with initialize_config_module(version_base=None, config_module="raygen.conf"):
        return compose(config_name="config", overrides=list(overrides))


@pytest.mark.parametrize("exp", EXPERIMENTS)
def test_every_experiment_composes_and_validates(exp, tmp_path, monkeypatch):
    if exp == "cu_quick":  # its data come from the benchmark's generator
        import subprocess
        import sys

        root = Path(__file__).resolve().parents[1]
        subprocess.run([sys.executable, str(root / "bench" / "cu_quick" / "workload.py"),
                        str(tmp_path / "cq")], check=True, capture_output=True, timeout=300)
        monkeypatch.setenv("RAYGEN_CU_QUICK", str(tmp_path / "cq"))
    cfg = cfg_with(f"+exp={exp}")
    validate(cfg)
    assert cfg.explore.jobs and cfg.systems


def test_cu_is_the_papers_setup():
    cfg = cfg_with("+exp=cu")
    assert cfg.select.f_trust_lo == 0.05 and cfg.select.f_trust_hi == 0.20
    assert {s.crystal for s in cfg.systems if s.structure == "bulk"} >= {"fcc", "hcp", "bcc"}
    assert all(s.atom_pert == 0.01 and s.cell_pert == 0.03 for s in cfg.systems)
    assert any(j.ensemble.startswith("npt") for j in cfg.explore.jobs)


def test_overrides_reach_the_config():
    cfg = cfg_with("+exp=cu", "select.f_trust_lo=0.04", "workdir=/tmp/run1")
    assert cfg.select.f_trust_lo == 0.04 and cfg.workdir == "/tmp/run1"


def test_unknown_key_is_refused():
    with pytest.raises(ConfigCompositionException) as err:
        cfg_with("+exp=cu", "select.f_trust_low=0.1")
    assert "f_trust_low" in str(err.value.__cause__ or err.value)


def test_wrong_type_is_refused():
    with pytest.raises(ConfigCompositionException):
        cfg_with("+exp=cu", "train.numb_models=four")


def problems(*overrides):
    with pytest.raises(ConfigError) as err:
        validate(cfg_with("+exp=cu", *overrides))
    return "\n".join(err.value.problems)


def test_trust_lo_not_below_hi():
    assert "select.f_trust_lo: 0.3 must be < f_trust_hi 0.2" in problems("select.f_trust_lo=0.3")


def test_negative_counts():
    msg = problems("select.fp_task_max=-1", "train.numb_models=1", "cluster.explorer.count=0")
    assert "select.fp_task_max and select.fp_task_min must be >= 0" in msg
    assert "train.numb_models: a deviation needs >= 2 models" in msg
    assert "cluster.explorer.count: must be >= 1" in msg


def test_missing_init_data_file(tmp_path):
    msg = problems(f"init.data=[{tmp_path}/nowhere]")
    assert f"init.data[0]: {tmp_path}/nowhere does not exist" in msg


def test_type_map_must_match_data(tmp_path):
    sysdir = tmp_path / "data" / "Al4"
    (sysdir / "set.000").mkdir(parents=True)
    (sysdir / "type.raw").write_text("0\n0\n0\n0\n")
    (sysdir / "type_map.raw").write_text("Al\n")
    msg = problems(f"init.data=[{tmp_path}/data]")
    assert "type_map.raw ['Al'] does not match type_map ['Cu']" in msg


def test_job_out_of_range():
    msg = problems("explore.jobs=[{sys_idx:[99],temps:[300],ensemble:nvt}]")
    assert "explore.jobs[0].sys_idx: [99] out of range" in msg


@pytest.mark.parametrize("override, allowed", [
    ("explore.jobs=[{sys_idx:[0],temps:[300],ensemble:npx}]", "npt-iso"),
    ("train.backend=jax", "tf, pt"),
    ("systems.0.structure=slab", "bulk, surface, file"),
    ("explore.engine=gromacs", "lammps"),
    ("label.name=vasp5", "emt"),
])
def test_closed_vocabularies_are_checked_when_composed(override, allowed):
    with pytest.raises(ConfigCompositionException) as err:
        cfg_with("+exp=cu", override)
    assert allowed in str(err.value.__cause__ or err.value)


@pytest.mark.parametrize("override, key", [
    ("+select.f_trust_low=0.1", "select.f_trust_low"),
    ("+systems.0.colour=red", "systems[0].colour"),
    ("+cluster.labeler.mem=4", "cluster.labeler.mem"),
    ("+bogus=1", "bogus"),
])
def test_keys_added_with_plus_are_refused_too(override, key):
    assert f"{key}: unknown key" in problems(override)


def test_a_plugin_brings_its_own_keys():
    cfg = cfg_with("+exp=cu", "label.asap_cutoff=true")
    validate(cfg)
    assert cfg.label.asap_cutoff is True
    with pytest.raises(ConfigCompositionException):
        cfg_with("+exp=cu", "label.neigh_skin=1")  # a LAMMPS key is not a labeler key
    assert cfg_with("+exp=cu", "explore.neigh_skin=1.5").explore.neigh_skin == 1.5


@pytest.mark.parametrize("name", ["../../precious", "a/b", ".hidden", "-x", "", "sp ace"])
def test_system_names_that_would_leave_the_run_directory_are_refused(name):
    assert "systems[0].name:" in problems(f"systems.0.name='{name}'", "init.systems=[hcp]")


def test_more_values_checked_before_work():
    msg = problems("max_iter=-1", "select.f_trust_lo=[0.05,0.05,0.05,0.05,0.05,0.05,0.05,0.05]",
                   "+train.input.training.save_freq=150")
    assert "max_iter: must be >= 0" in msg
    assert "select.f_trust_lo: 8 per-system values for 7 systems" in msg
    assert "save_freq: 150 must be a multiple of disp_freq 100" in msg


def test_types_beyond_the_type_map_are_refused(tmp_path):
    sysdir = tmp_path / "data" / "sys"
    (sysdir / "set.000").mkdir(parents=True)
    (sysdir / "type.raw").write_text("0\n1\n")
    assert "type.raw has atom types up to 1 but type_map ['Cu'] has 1" in problems(
        f"init.data=[{tmp_path}/data]")


def test_read_only_workdir_is_refused(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        if os.access(ro, os.W_OK):
            pytest.skip("running as a user who can write anywhere")
        assert "is not writable" in problems(f"workdir={ro}/run")
    finally:
        ro.chmod(0o700)


def test_deepmd_input_checked_by_deepmd():
    msg = problems("+train.input.model.descriptor.bogus=1")
    assert "train.input: rejected by deepmd-kit" in msg and "bogus" in msg


def test_missing_structure_file():
    msg = problems("systems=[{name:x,structure:file,path:/no/such/POSCAR}]",
                   "init.systems=[x]", "explore.jobs=[{sys_idx:[0],temps:[300]}]")
    assert "systems[0] (x).path: file /no/such/POSCAR does not exist" in msg


def test_cli_reports_bad_input_without_starting_ray(tmp_path):
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "raygen", "+exp=cu", "select.f_trust_lo=0.5",
                           f"workdir={tmp_path}/run"], capture_output=True, text=True,
                          cwd=tmp_path, timeout=120)
    assert proc.returncode == 2
    assert "select.f_trust_lo: 0.5 must be < f_trust_hi 0.2" in proc.stderr
    assert not (tmp_path / "run" / "record.raygen").exists()


def test_relative_paths_resolve_against_the_start_directory(tmp_path, monkeypatch):
    from raygen.config.paths import resolve_paths

    (tmp_path / "data" / "Cu4").mkdir(parents=True)
    (tmp_path / "data" / "Cu4" / "type.raw").write_text("0\n")
    monkeypatch.chdir(tmp_path)
    cfg = cfg_with("+exp=cu", "init.data=[data]", "workdir=run")
    resolve_paths(cfg)
    assert cfg.init.data == [str(tmp_path / "data")] and cfg.workdir == str(tmp_path / "run")


def test_yaml_syntax_error_in_a_user_experiment_is_one_line(tmp_path):
    import subprocess
    import sys

    (tmp_path / "conf" / "exp").mkdir(parents=True)
    (tmp_path / "conf" / "exp" / "mine.yaml").write_text(
        "# @package _global_\nworkdir: x\nsystems: [ {name: a\n")
    proc = subprocess.run([sys.executable, "-m", "raygen", "--config-dir",
                           str(tmp_path / "conf"), "+exp=mine"], capture_output=True,
                          text=True, cwd=tmp_path, timeout=120)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "mine.yaml: line 4, column 1: YAML syntax error" in proc.stderr


def test_help_shows_raygen_usage_not_schema_names():
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "raygen", "--help"], capture_output=True,
                         text=True, timeout=120).stdout
    assert "Usage: python -m raygen +exp=<experiment>" in out
    assert "schema" not in out and "label=emt" in out


def test_external_labelers_are_checked_before_work():
    msg = problems("label=cp2k", "label.command='no_such_cp2k -i input.inp'",
                   "label.template=/no/such/template.inp", "label.max_failed_ratio=1.5")
    assert "label.command: 'no_such_cp2k' is not an executable" in msg
    assert "label.template: file /no/such/template.inp does not exist" in msg
    assert "label.max_failed_ratio: must be in [0, 1]" in msg
    # a program cannot relax structures or run the initial MD inside raygen
    assert "systems[0], systems[1], " in msg and ".relax: labeler 'cp2k' runs as a program" in msg
    assert "init.md_steps: labeler 'cp2k' runs as a program" in msg


def test_labeler_keys_belong_to_their_labeler():
    cfg = cfg_with("+exp=cu", "label=cp2k", "label.cutoff=500", "label.kpoints=[2,2,2]")
    assert cfg.label.cutoff == 500 and list(cfg.label.kpoints) == [2, 2, 2]
    with pytest.raises(ConfigCompositionException):
        cfg_with("+exp=cu", "label=cp2k", "label.ecut=400")  # a GPAW key


def test_unreachable_cluster_address_is_one_line_and_fast(tmp_path):
    import socket
    import subprocess
    import sys
    import time

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    start = time.time()
    proc = subprocess.run([sys.executable, "-m", "raygen", "+exp=cu_smoke",
                           f"workdir={tmp_path}/run", f"cluster.address=127.0.0.1:{port}"],
                          capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert proc.returncode == 1 and time.time() - start < 60
    assert f"raygen: cluster.address=127.0.0.1:{port}: nothing answers" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_traversal_name_changes_nothing_outside_the_workdir(tmp_path):
    import subprocess
    import sys

    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "sentinel").write_text("keep me")
    before = sorted(p.name for p in tmp_path.rglob("*"))
    proc = subprocess.run([sys.executable, "-m", "raygen", "+exp=cu_smoke",
                           f"workdir={tmp_path}/a/b/run", "systems.0.name=../../../../precious",
                           "init.systems=[bcc]"], capture_output=True, text=True, cwd=tmp_path,
                          timeout=120)
    assert proc.returncode == 2 and "systems[0].name:" in proc.stderr
    assert (precious / "sentinel").read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.rglob("*")) == before


def test_final_training_and_strained_init_settings_checked_before_work():
    msg = problems("train.final.numb_steps=0", "train.final.start_lr=-1",
                   "init.strains=[0.02,0.5]")
    assert "train.final.numb_steps: must be >= 1" in msg
    assert "train.final.start_lr: must be > 0" in msg
    assert "init.strains: each must be in (0, 0.2)" in msg
    msg = problems("train.final.numb_steps=1000", "++train.final.input.loss.limit_pref_q=1")
    assert "train.final.input: merged over train.input, rejected by deepmd-kit" in msg
    assert "limit_pref_q" in msg
    validate(cfg_with("+exp=cu", "train.final.numb_steps=1000",
                      "++train.final.input.loss.limit_pref_v=20"))


def test_lanes_cannot_be_asked_for_beside_gpus():
    msg = problems("cluster.lanes=true", "cluster.num_gpus=1", "cluster.trainer.num_gpus=1")
    assert "cluster.lanes=true: lanes hold no GPUs" in msg and "cluster.trainer" in msg


def test_a_gpu_layout_with_a_cpu_only_backend_is_refused(monkeypatch):
    """cluster=gpu with TensorFlow from tensorflow-cpu would train on CPUs while holding
    the GPUs (this machine has tensorflow-cpu only)."""
    from importlib import metadata

    from raygen.config.backend import cpu_only_reason

    def found(*overrides) -> list[str]:
        try:
            validate(cfg_with("+exp=cu", *overrides))
        except ConfigError as err:
            return err.problems
        return []

    installed = {d.metadata["Name"].lower().replace("_", "-")
                 for d in metadata.distributions()}
    assert ("tensorflow-cpu" in installed and "tensorflow" not in installed) == \
        (cpu_only_reason("tf") is not None)
    if cpu_only_reason("tf") is not None:
        msg = found("cluster=gpu")
        assert any("cluster.trainer.num_gpus, cluster.explorer.num_gpus" in p and
                   "tensorflow-cpu" in p for p in msg), msg
    assert not any("tensorflow-cpu" in p for p in found(
        "cluster=gpu", "cluster.check_gpu_backend=false"))
    assert not any("tensorflow-cpu" in p for p in found())  # CPU layouts: fine
    # a CPU build of torch with the PyTorch backend
    real = metadata.version
    monkeypatch.setattr(metadata, "version",
                        lambda d: "2.11.0+cpu" if d == "torch" else real(d))
    assert "CPU build (2.11.0+cpu)" in cpu_only_reason("pt")


@pytest.mark.parametrize("cluster", ["gpu", "slurm", "kuberay"])
def test_the_paper_scale_run_on_gpu_layouts_uses_a_backend_that_can_use_gpus(cluster):
    """+exp=cu_paper trains with PyTorch (the torch extra's CUDA build), so on every GPU
    layout its GPUs do the work; with train.backend=tf (tensorflow-cpu) it is refused."""
    from raygen.config.backend import cpu_only_reason

    cfg = cfg_with("+exp=cu_paper", f"cluster={cluster}")
    assert cfg.train.backend == "pt"
    assert any(cfg.cluster[k].num_gpus > 0 for k in ("trainer", "explorer"))
    assert cpu_only_reason("pt") is None  # CI installs torch 2.11's CUDA build
    try:
        validate(cfg)
    except ConfigError as err:
        assert not any("cannot use GPUs" in p or "CPU build" in p for p in err.problems), \
            err.problems
    if cpu_only_reason("tf") is not None:
        with pytest.raises(ConfigError, match="tensorflow-cpu"):
            validate(cfg_with("+exp=cu_paper", f"cluster={cluster}", "train.backend=tf"))


def test_a_pytorch_only_descriptor_on_tensorflow_is_refused_naming_the_key():
    with pytest.raises(ConfigError, match=r"train.input.model.descriptor: dpa3 exists only "
                                          r"in deepmd-kit's PyTorch backend; set train.backend=pt"):
        validate(cfg_with("+exp=cu_smoke", "train=dpa3", "train.backend=tf"))
    validate(cfg_with("+exp=cu_smoke", "train=dpa3"))


def test_the_pytorch_backend_without_its_requirements_is_refused_before_any_work(monkeypatch):
    """raygen's old torch-only extra: deepmd-kit's PyTorch backend dies in its first
    `dp --pt train` without e3nn; now the run is refused naming what is missing."""
    from importlib import metadata

    real = metadata.version

    def version(dist):
        if dist in ("e3nn", "vesin"):
            raise metadata.PackageNotFoundError(dist)
        return real(dist)

    monkeypatch.setattr(metadata, "version", version)
    with pytest.raises(ConfigError) as err:
        validate(cfg_with("+exp=cu_smoke", "train.backend=pt"))
    (msg,) = [p for p in err.value.problems if p.startswith("train.backend")]
    assert "e3nn>=0.5.9" in msg and "vesin" in msg and "pip install -e '.[torch]'" in msg
