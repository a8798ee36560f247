"""DP-GEN's param.json / machine.json imported key by key: DP-GEN's own example inputs
(tests/config/dpgen_examples, from deepmodeling/dpgen) either compose as a raygen
experiment or are refused with the keys listed; its dialects read; nothing dropped."""

import json
from pathlib import Path

import pytest

from raygen.cli.import_dpgen import (
    TABLE,
    ImportRefused,
    import_files,
    key_table,
    validation_problems,
)
from raygen.config.dpgen_import import IGNORED, MAPPED, UNSUPPORTED, import_machine, import_param

EXAMPLES = Path(__file__).parent / "dpgen_examples"
# what raygen cannot honour in each of DP-GEN's examples (refused, named)
REFUSED = {
    "ch4-param.json": {"fp_pp_files"},
    "cp2k-ch4-param.json": {"external_input_path"},
    "enhance_sampling/param.json": {"training_reuse_iter", "training_reuse_start_lr"},
}
# problems a composed experiment may have here: its files and machines are elsewhere
ELSEWHERE = ("does not exist", "no file matches", "not an executable", "GPUs")


@pytest.mark.parametrize("example", ["ch4-param.json", "cp2k-ch4-param.json",
                                     "mg-vasp-param.json", "enhance_sampling/param.json"])
def test_dpgens_examples_compose_or_are_refused_naming_the_keys(example, tmp_path):
    param = EXAMPLES / example
    keys = set(json.loads(param.read_text()))
    imp = import_param(json.loads(param.read_text()))
    reported = {r.key.split("[")[0].split(".")[0] for r in imp.rows}
    # every key of the file is in the report, except DP-GEN's _comments
    assert {k for k in keys if not k.startswith("_")} <= reported
    if example in REFUSED:
        with pytest.raises(ImportRefused) as err:
            import_files(param, EXAMPLES / "ch4-machine.json", tmp_path, "x")
        for key in REFUSED[example]:
            assert f"  - {key}" in str(err.value)
        assert not (tmp_path / "exp" / "x.yaml").exists()
        assert (tmp_path / "x.import.md").exists()  # the whole report, still
        return
    exp = import_files(param, EXAMPLES / "ch4-machine.json", tmp_path, "x")
    assert exp.read_text().startswith("# @package _global_\n")
    problems = validation_problems(tmp_path, "x", [])
    assert problems and all(any(w in p for w in ELSEWHERE) for p in problems), problems


def test_the_plumed_template_example_imports_and_is_refused_for_want_of_plumed(tmp_path):
    """DP-GEN's enhanced-sampling example without the training-reuse keys it is refused
    for: the LAMMPS template, rev_mat and the PLUMED template are mapped (paths from the
    param.json's folder); validation then refuses it because this LAMMPS has no PLUMED
    package, and says what it has instead."""
    param = json.loads((EXAMPLES / "enhance_sampling" / "param.json").read_text())
    for row in import_param(param).unsupported:
        assert row.key.startswith("training_reuse_")
        del param[row.key]
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "param.json").write_text(json.dumps(param))
    (tmp_path / "in" / "lmp").symlink_to(EXAMPLES / "enhance_sampling" / "lmp")
    exp = import_files(tmp_path / "in" / "param.json", None, tmp_path, "x")
    text = exp.read_text()
    assert f"lmp: {tmp_path / 'in' / 'lmp' / 'input.lammps'}" in text
    assert f"plm: {tmp_path / 'in' / 'lmp' / 'input.plumed'}" in text
    assert "V_STRIDE:" in text
    problems = validation_problems(tmp_path, "x", [])
    plumed = [p for p in problems if "PLUMED package" in p]
    assert len(plumed) == 3 and "COLVARS" in plumed[0], problems
    assert plumed[0].startswith("explore.jobs[0].template.lmp:")
    assert all(any(w in p for w in ELSEWHERE + ("PLUMED package",)) for p in problems), problems


def test_dialects_trust_levels_aliases_and_training_inputs():
    param = {
        "type_map": ["Mg", "Al"], "sys_configs_prefix": "/d",
        "sys_configs": [["a/*/POSCAR"], "b/*/POSCAR"], "init_data_sys": ["x"],
        "model_devi_f_trust_lo": {"1": 0.1}, "model_devi_f_trust_hi": [0.3, 0.4],
        "model_devi_v_trust_hi": 0.5,
        "model_devi_jobs": [{"sys_idx": [0, 1], "temps": [50], "press": [1], "t_freq": 5,
                             "nsteps": 100, "ensemble": "NVT", "_idx": "00",
                             "model_devi_f_trust_hi": {"0": 0.25}},
                            {"sys_idx": [1], "temps": [100], "traj_freq": 20, "nsteps": 10,
                             "ensemble": "npt"}],
        "default_training_param": {"model": {"descriptor": {"seed": 3, "type": "se_a"}},
                                   "training": {"systems": ["a"], "stop_batch": 5000,
                                                "batch_size": 2, "seed": 1}},
        "training_init_model": True, "training_reuse_stop_batch": 1000,
        "train_backend": "pytorch", "fp_style": "pwscf", "fp_pp_path": "pp",
        "fp_pp_files": ["Mg.upf", "Al.upf"], "model_devi_adapt_trust_lo": True,
        "model_devi_numb_candi_f": 7, "_comment": "ignored as DP-GEN does",
        "made_up_key": 1,
    }
    imp = import_param(param)
    st = imp.settings
    assert st["systems"] == [{"name": "sys000", "confs": "/d/a/*/POSCAR"},
                             {"name": "sys001", "confs": "/d/b/*/POSCAR"}]
    assert st["select"]["f_trust_lo"] == [1e10, 0.1] and st["select"]["f_trust_hi"] == [0.3, 0.4]
    assert st["select"]["v_trust_hi"] == 0.5 and st["select"]["adapt_trust_lo"] is True
    j0, j1 = st["explore"]["jobs"]
    assert j0["trj_freq"] == 5 and j1["trj_freq"] == 20 and j0["ensemble"] == "nvt"
    assert j0["f_trust_hi"] == [0.25, 1e10] and "_idx" not in j0
    assert st["train"]["numb_steps"] == 5000 and st["train"]["backend"] == "pt"
    assert st["train"]["input"]["training"] == {}  # data and seeds are raygen's
    assert "seed" not in st["train"]["input"]["model"]["descriptor"]
    assert st["train"]["init_model_policy"] == "yes"
    assert st["train"]["init_model_numb_steps"] == 1000
    assert imp.defaults == {"label": "qe"}
    assert st["label"] == {"pseudo_dir": "pp",
                           "pseudopotentials": {"Mg": "Mg.upf", "Al": "Al.upf"}}
    assert [(r.key, r.status) for r in imp.unsupported] == [("made_up_key", UNSUPPORTED)]


def test_machine_json_old_and_new_style():
    old = json.loads((EXAMPLES / "ch4-machine.json").read_text())
    imp = import_machine(old)
    assert imp.settings["cluster"]["trainer"]["num_gpus"] == 1.0  # numb_gpu 1
    assert imp.settings["label"]["command"] == old["fp_command"]
    assert not imp.unsupported and {r.status for r in imp.rows} <= {MAPPED, IGNORED}
    new = {"api_version": "1.0",
           "fp": [{"command": "mpirun vasp_std", "machine": {"batch_type": "Slurm"},
                   "resources": {"cpu_per_node": 32, "gpu_per_node": 0}}],
           "model_devi": [{"command": "lmp", "resources": {"gpu_per_node": 1}}]}
    imp = import_machine(new)
    assert imp.settings["cluster"] == {"labeler": {"num_cpus": 32.0},
                                       "explorer": {"num_gpus": 1.0}}
    assert imp.settings["label"]["command"] == "mpirun vasp_std"
    assert {r.key for r in imp.rows} >= {"fp.resources.gpu_per_node", "fp.machine",
                                         "model_devi.command"}


def test_the_key_table_in_docs_is_current():
    lines = TABLE.read_text().splitlines()
    assert [ln for ln in lines if ln.startswith("| `")] == \
        [f"| `{k}` | {s} | {t} |" for k, s, t in key_table()]


def test_a_system_of_several_globs_reads_each_globs_files_in_order(tmp_path):
    """DP-GEN's ``sys_configs`` entry may be a list of globs: one raygen system whose
    confs are every file of the first glob (name order), then of the second."""
    from ase.build import bulk
    from ase.io import write

    from raygen.config.schema import conf_files
    from raygen.steps.prepare import given_confs

    for d, a in (("b", 3.5), ("a", 3.6), ("c", 3.7)):
        (tmp_path / d).mkdir()
        write(tmp_path / d / "POSCAR", bulk("Cu", "fcc", a=a, cubic=True), format="vasp")
    imp = import_param({"type_map": ["Cu"], "sys_configs_prefix": str(tmp_path),
                        "sys_configs": [["[bc]/POSCAR", "a/POSCAR"]]})
    assert not imp.unsupported
    confs = imp.settings["systems"][0]["confs"]
    assert confs == [f"{tmp_path}/[bc]/POSCAR", f"{tmp_path}/a/POSCAR"]
    assert conf_files(confs) == [f"{tmp_path}/{d}/POSCAR" for d in "bca"]
    cells = [round(at.cell[0, 0], 2) for at in given_confs(confs)]
    assert cells == [3.5, 3.7, 3.6]


def test_cp2k_user_fp_params_become_the_input_raygen_writes():
    """DP-GEN's CP2K user_fp_params (its CH4 example's): the section tree over raygen's
    input, the parallel KIND lists as each element's basis set and potential, OT without
    raygen's default smearing."""
    from ase.build import molecule

    from raygen.labelers.cp2k import Cp2kLabelConfig, input_tree

    params = {"FORCE_EVAL": {"DFT": {
        "BASIS_SET_FILE_NAME": "BASIS_MOLOPT", "POTENTIAL_FILE_NAME": "GTH_POTENTIALS",
        "MGRID": {"CUTOFF": 400}, "QS": {"EPS_DEFAULT": 1.0e-13},
        "SCF": {"SCF_GUESS": "ATOMIC", "EPS_SCF": 1.0e-6, "MAX_SCF": 50,
                "OT": {"MINIMIZER": "DIIS", "PRECONDITIONER": "FULL_SINGLE_INVERSE"}},
        "XC": {"XC_FUNCTIONAL": {"_": "PBE"}}},
        "SUBSYS": {"KIND": {"_": ["H", "C"], "POTENTIAL": ["GTH-PBE-q1", "GTH-PBE-q4"],
                            "BASIS_SET": ["DZVP-MOLOPT-GTH", "DZVP-MOLOPT-GTH"]}}}}
    imp = import_param({"type_map": ["H", "C"], "fp_style": "cp2k", "user_fp_params": params})
    assert not imp.unsupported
    label = imp.settings["label"]
    assert label["potential"] == {"H": "GTH-PBE-q1", "C": "GTH-PBE-q4"}
    assert label["basis"] == {"H": "DZVP-MOLOPT-GTH", "C": "DZVP-MOLOPT-GTH"}
    assert label["smearing_temperature"] is None
    ch4 = molecule("CH4", cell=[10, 10, 10], pbc=True)
    tree = input_tree(ch4, Cp2kLabelConfig(**label))
    dft = tree["FORCE_EVAL"]["DFT"]
    assert dft["MGRID"]["CUTOFF"] == 400 and dft["QS"]["EPS_DEFAULT"] == 1.0e-13
    assert dft["SCF"]["OT"]["MINIMIZER"] == "DIIS" and "SMEAR" not in dft["SCF"]
    kinds = {k["_"]: k for k in tree["FORCE_EVAL"]["SUBSYS"]["KIND"]}
    assert kinds["C"]["POTENTIAL"] == "GTH-PBE-q4" and kinds["H"]["BASIS_SET"] == \
        "DZVP-MOLOPT-GTH"
    # a KIND key raygen cannot set is refused, named
    params["FORCE_EVAL"]["SUBSYS"]["KIND"]["ELEMENT"] = ["H", "C"]
    bad = import_param({"type_map": ["H", "C"], "fp_style": "cp2k", "user_fp_params": params})
    assert [r.key for r in bad.unsupported] == ["user_fp_params"]
    assert "SUBSYS.KIND.ELEMENT" in bad.unsupported[0].target
