"""User LAMMPS templates: revision sets, the rewritten input, and what is refused."""

from pathlib import Path
from types import SimpleNamespace

import pytest

from raygen.config.schema import LammpsTemplate
from raygen.engines.lammps_template import (
    render_lammps,
    reserved_lines,
    revise,
    template_job_problems,
)
from raygen.state.schedule import expand_job, revision_sets

EXAMPLE = Path(__file__).parents[1] / "config" / "dpgen_examples" / "enhance_sampling" / "lmp"
OWN = """\
units metal
atom_style atomic
read_data ${RAYGEN_CONF}
velocity all create V_TEMP ${RAYGEN_SEED} dist gaussian
fix 1 all nvt temp V_TEMP V_TEMP 0.1
run 100
"""


def job(**kw):
    base = dict(sys_idx=[0, 1], temps=[], press=[1.0], ensemble="npt", nsteps=1000,
                trj_freq=10, confs_per_sys=None, template=LammpsTemplate(lmp="in.tpl"),
                rev_mat=None, sys_rev_mat=None)
    base.update(kw)
    return SimpleNamespace(**base)


def test_revision_sets_are_dpgens_product_with_the_system_keys_inner():
    rev = {"lmp": {"V_T": [300, 600], "V_P": [1]}, "plm": {"V_S": [10, 20]}}
    sys_rev = {"1": {"lmp": {"V_N": [5, 6]}}}
    sets0 = [(dict(a), dict(b)) for a, b in revision_sets(rev, sys_rev, 0)]
    assert [(a["V_T"], b["V_S"]) for a, b in sets0] == [(300, 10), (300, 20), (600, 10),
                                                         (600, 20)]
    sets1 = [(dict(a), dict(b)) for a, b in revision_sets(rev, sys_rev, 1)]
    assert len(sets1) == 8
    assert [(a["V_T"], b["V_S"], a["V_N"]) for a, b in sets1[:3]] == [
        (300, 10, 5), (300, 10, 6), (300, 20, 5)]
    assert revision_sets(None, None, 0) == [([], [])]


def test_a_template_job_has_a_task_per_conf_and_revision_set():
    j = job(rev_mat={"lmp": {"V_TEMP": [300, 600]}})
    tasks = expand_job(j, [2, 1], iteration=0)
    assert len(tasks) == 2 * 2 + 1 * 2
    assert [t.task_id for t in tasks[:4]] == [f"task.000.{k:06d}" for k in range(4)]
    assert [(t.conf_idx, t.template.label()) for t in tasks[:4]] == [
        (0, "V_TEMP=300"), (0, "V_TEMP=600"), (1, "V_TEMP=300"), (1, "V_TEMP=600")]
    assert all(t.temp is None and t.press is None for t in tasks)
    # temperatures given: one more dimension (RAYGEN_TEMP); pressures with them
    tasks = expand_job(job(temps=[100, 200], press=[1.0, 5.0]), [1, 1], iteration=0)
    assert len(tasks) == 2 * 4 and {t.press for t in tasks} == {1.0, 5.0}


def test_dpgens_reserved_lines_are_rewritten_and_the_keys_replaced():
    text = (EXAMPLE / "input.lammps").read_text()
    out = render_lammps(text, {"V_NSTEPS": 2000, "V_TEMP": 300, "V_PRES": 1},
                        model="../../models/graph.000.pb", type_map=["C", "H"], trj_freq=10,
                        dump="traj.dump", conf="conf.lmp", seed=7)
    lines = out.splitlines()
    assert "pair_style deepmd ../../models/graph.000.pb" in lines
    assert "dump dpgen_dump all custom 10 traj.dump id type x y z" in lines
    assert "dump_modify dpgen_dump sort id" in lines
    assert ("fix dpgen_plm all plumed plumedfile input.plumed outfile output.plumed"
            in lines)
    assert "variable        NSTEPS          equal 2000" in lines
    assert "V_" not in out
    assert out.count("pair_style") == 1 and out.count("mass ") == 2  # its own masses
    plumed = revise((EXAMPLE / "input.plumed").read_text(), {"V_TEMP": 300, "V_STRIDE": 10})
    assert "TEMP=300" in plumed and "PRINT STRIDE=10 " in plumed


def test_dpgens_full_pair_style_line_is_given_the_driving_model_only():
    text = OWN.replace("run 100", "pair_style deepmd ../graph.000.pb ../graph.001.pb out_freq"
                       " 10 out_file model_devi.out\npair_coeff * *\nrun 100")
    out = render_lammps(text, {}, model="m.pb", type_map=["Cu"], trj_freq=5, dump="t.dump",
                        conf="conf.lmp", seed=1)
    assert "pair_style deepmd m.pb" in out.splitlines() and "graph.001" not in out


def test_raygens_own_template_gets_the_model_masses_and_dump_put_in():
    out = render_lammps(OWN, {"V_TEMP": 450}, model="m.pb", type_map=["Cu"], trj_freq=5,
                        dump="traj.dump", conf="conf.lmp", seed=11, temp=450.0)
    lines = out.splitlines()
    box = lines.index("read_data ${RAYGEN_CONF}")
    assert lines[box + 1].startswith("mass 1 63.54")
    assert lines[box + 2:box + 4] == ["pair_style deepmd m.pb", "pair_coeff * *"]
    run = lines.index("run 100")
    assert lines[run - 2:run] == ["dump dpgen_dump all custom 5 traj.dump id type x y z",
                                  "dump_modify dpgen_dump sort id"]
    assert "variable RAYGEN_CONF string conf.lmp" in lines
    assert "variable RAYGEN_SEED equal 11" in lines and "variable RAYGEN_TEMP equal 450.0" in lines
    assert "fix 1 all nvt temp 450 450 0.1" in lines
    # a template that dumps the trajectory itself is not given a second dump
    own_dump = OWN.replace("run 100", "dump d all custom 5 ${RAYGEN_DUMP} id type x y z\nrun 100")
    assert render_lammps(own_dump, {}, model="m.pb", type_map=["Cu"], trj_freq=5,
                         dump="traj.dump", conf="conf.lmp", seed=1).count("dump ") == 1


def write(tmp_path, name, text):
    (tmp_path / name).write_text(text)
    return str(tmp_path / name)


@pytest.mark.parametrize("text, rev, expect", [
    (OWN + "dump dpgen_dump\ndump dpgen_dump\n", None, "'dump dpgen_dump' appears 2 times"),
    (OWN.replace("read_data ${RAYGEN_CONF}", ""), None, "makes no simulation box"),
    (OWN.replace("run 100", ""), None, "has no 'run' command"),
    (OWN + "pair_style lj/cut 2.5\n", None, "its pair_style (lj/cut 2.5) is not deepmd"),
    (OWN, {"lmp": {"V_TEMPP": [1]}}, "rev_mat.lmp.V_TEMPP: does not appear in"),
    (OWN, {"lmp": {"V_TEMP": 300}}, "rev_mat.lmp.V_TEMP: must be a non-empty list"),
    (OWN, {"lmp": {"V_TEMP": []}}, "rev_mat.lmp.V_TEMP: must be a non-empty list"),
    (OWN, {"plm": {"V_S": [1]}}, "rev_mat.plm.V_S: PLUMED keys need template.plm"),
    (OWN, {"lammps": {"V_TEMP": [1]}}, "rev_mat.lammps: unknown; the keys are lmp and plm"),
    (OWN + "fix dpgen_plm\n", None, "has 'fix dpgen_plm', which needs the PLUMED input"),
    (OWN + "fix p all plumed plumedfile x\n", None, "uses PLUMED, and this LAMMPS has no "
                                                    "PLUMED package"),
    (OWN + "fix c all colvars c.in\n", None, "uses 'fix colvars', and this LAMMPS has no"),
])
def test_a_bad_template_is_refused_naming_the_file_and_key(tmp_path, text, rev, expect):
    j = job(template=LammpsTemplate(lmp=write(tmp_path, "in.tpl", text)), rev_mat=rev)
    problems = template_job_problems(j, "explore.jobs[0]", packages=["MANYBODY"])
    assert any(expect in p for p in problems), problems
    assert all(p.startswith("explore.jobs[0].") for p in problems)


def test_missing_files_and_stray_system_keys_are_named(tmp_path):
    j = job(template=LammpsTemplate(lmp=str(tmp_path / "nope.lmp"),
                                    files=[str(tmp_path / "cv.in")]),
            sys_rev_mat={"7": {"lmp": {"X": [1]}}})
    problems = template_job_problems(j, "explore.jobs[2]")
    assert f"explore.jobs[2].template.lmp: {tmp_path / 'nope.lmp'} does not exist" in problems
    assert any(p.startswith("explore.jobs[2].template.files:") for p in problems)
    assert any("sys_rev_mat.7: system 7 is not in this job's sys_idx [0, 1]" in p
               for p in problems)


def test_a_good_template_has_no_problem(tmp_path):
    j = job(template=LammpsTemplate(lmp=write(tmp_path, "in.tpl", OWN),
                                    files=[write(tmp_path, "cv.in", "centers V_C\n")]),
            rev_mat={"lmp": {"V_TEMP": [300]}, "plm": {"V_C": [2.5]}})
    assert template_job_problems(j, "explore.jobs[0]", packages=["COLVARS"]) == []
    assert reserved_lines(OWN) == {"pair_style deepmd": [], "dump dpgen_dump": [],
                                   "fix dpgen_plm": []}
