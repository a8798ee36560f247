"""raygen's template tasks against DP-GEN 0.14's own ``_make_model_devi_revmat`` on DP-GEN's
enhanced-sampling example (its LAMMPS and PLUMED templates, rev_mat, plus a sys_rev_mat):
the same tasks in the same order, the same ``job.json``, the same ``input.plumed``, and the
same LAMMPS input but for the lines raygen writes its own way (the pair style drives with
one model, the deviation is the reducer's; the dump is raygen's trajectory)."""

import json
import subprocess
import textwrap
from pathlib import Path
from types import SimpleNamespace

import pytest
from ase import Atoms

from raygen.config.schema import LammpsTemplate
from raygen.engines.lammps import LammpsEngine, LammpsExploreConfig
from raygen.state.schedule import expand_job

pytestmark = pytest.mark.slow

EXAMPLE = Path(__file__).parents[1] / "config" / "dpgen_examples" / "enhance_sampling"
DPGEN_CALL = """
import json, os, sys
from dpgen.generator.run import _make_model_devi_revmat
jdata, confs = json.loads(sys.argv[1]), json.loads(sys.argv[2])
_make_model_devi_revmat(0, jdata, {"deepmd_version": "2.2.0"}, confs)
"""
OWN_LINES = ("pair_style", "pair_coeff", "dump", "dump_modify", "variable RAYGEN_", "#")


def compared(text: str) -> list[str]:
    return [" ".join(line.split()) for line in text.splitlines()
            if line.strip() and not line.lstrip().startswith(OWN_LINES)]


def test_the_same_tasks_and_inputs_as_dpgen(tmp_path, dpgen_python):
    rev_mat = {"lmp": {"V_NSTEPS": [1000, 2000], "V_TEMP": [300, 600], "V_PRES": [1]},
               "plm": {"V_TEMP": [300], "V_STRIDE": [10, 20]}}
    sys_rev_mat = {"1": {"lmp": {"V_PRES": [5, 10]}}}
    lmp, plm = EXAMPLE / "lmp" / "input.lammps", EXAMPLE / "lmp" / "input.plumed"
    dp = tmp_path / "dpgen"
    for m in range(4):
        (dp / "iter.000000" / "00.train").mkdir(parents=True, exist_ok=True)
        (dp / "iter.000000" / "00.train" / f"graph.{m:03d}.pb").write_text("")
    job = {"sys_idx": [0, 1], "trj_freq": 10, "template": {"lmp": str(lmp), "plm": str(plm)},
           "rev_mat": rev_mat, "sys_rev_mat": sys_rev_mat}
    jdata = {"type_map": ["C", "H"], "mass_map": [12.011, 1.008], "model_devi_plumed": True,
             "model_devi_jobs": [job]}
    confs = [["c0.lmp", "c1.lmp"], ["c2.lmp"]]
    proc = subprocess.run([str(dpgen_python), "-c", textwrap.dedent(DPGEN_CALL),
                           json.dumps(jdata), json.dumps(confs)], capture_output=True,
                          text=True, timeout=300, cwd=dp)
    assert proc.returncode == 0, proc.stderr[-2000:]
    theirs = sorted((dp / "iter.000000" / "01.model_devi").glob("task.*"))

    ours_job = SimpleNamespace(sys_idx=[0, 1], temps=[], press=[], ensemble="nvt",
                               nsteps=0, trj_freq=10, confs_per_sys=None, rev_mat=rev_mat,
                               sys_rev_mat=sys_rev_mat,
                               template=LammpsTemplate(lmp=str(lmp), plm=str(plm)))
    tasks = expand_job(ours_job, [2, 1], iteration=0)
    assert [t.task_id for t in tasks] == [d.name for d in theirs]
    assert len(tasks) == 2 * 8 + 1 * 16
    engine = LammpsEngine(LammpsExploreConfig(), ["C", "H"])
    methane = Atoms("CH4", positions=[[5, 5, 5], [5.6, 5.6, 5.6], [4.4, 4.4, 5.6],
                                      [4.4, 5.6, 4.4], [5.6, 4.4, 4.4]],
                    cell=[10, 10, 10], pbc=True)
    models = [tmp_path / f"graph.{m:03d}.pb" for m in range(4)]
    for t, d in zip(tasks, theirs):
        ours = tmp_path / "ours" / t.task_id
        ours.mkdir(parents=True)
        engine.write_task(ours, methane, t, models)
        assert json.loads((ours / "job.json").read_text()) == \
            json.loads((d / "job.json").read_text())
        assert (ours / "input.plumed").read_text() == (d / "input.plumed").read_text()
        assert compared((ours / "in.lammps").read_text()) == \
            compared((d / "input.lammps").read_text())
        theirs_fix = [ln for ln in (d / "input.lammps").read_text().splitlines()
                      if "dpgen_plm" in ln]
        assert " ".join(theirs_fix[0].split()) in (ours / "in.lammps").read_text()
