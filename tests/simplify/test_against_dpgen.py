"""simplify's split of the rest against DP-GEN 0.14's own ``post_model_devi`` on the
same data set and the same ``details`` (and ``true_error``) files: the same accurate
frames, as many picked, the same frames left (its picks are unseeded: the sets, not the
draw, are compared)."""

import json
import shutil
import subprocess
import textwrap

import dpdata
import numpy as np
import pyarrow.parquet as pq
import pytest

from raygen.science.dataset import write_deepmd_npy
from raygen.science.frames import deviation_rows
from raygen.simplify.run import Simplify, details_text
from tests.conftest import cu_frames
from tests.test_config import cfg_with

pytestmark = pytest.mark.slow

DPGEN_CALL = """
import json, os, sys
from dpgen.simplify.simplify import post_model_devi
jdata = json.loads(sys.argv[1])
os.chdir(sys.argv[2])
post_model_devi(1, jdata, {})
"""


def energies(path):
    multi = dpdata.MultiSystems(type_map=["Cu"])
    if any(path.rglob("type.raw")):
        multi.from_deepmd_npy(str(path), labeled=True)
    return sorted(float(e) for s in multi for e in s["energies"])


@pytest.mark.parametrize("true_error", [False, True])
def test_the_same_split_as_dpgen(tmp_path, dpgen_python, true_error):
    data = tmp_path / "data"
    write_deepmd_npy(cu_frames(n_perturb=3, md_steps=12, seed=4), ["Cu"], data)
    n = len(list(dpdata.LabeledSystem(str(data / "Cu32"), fmt="deepmd/npy")["energies"]))
    rng = np.random.default_rng(7 + true_error)

    def table():
        devi = np.zeros((n, 7))
        devi[:, 3:6] = np.round(rng.lognormal(np.log(0.08), 0.7, (n, 3)), 4)
        devi[:, 6] = np.round(rng.lognormal(np.log(0.004), 0.8, n), 5)
        return deviation_rows("Cu32", 0, np.arange(n), devi)

    details = table()
    errors = table() if true_error else None
    levels = {"f_trust_lo": 0.06, "f_trust_hi": 0.2, "e_trust_lo": 0.005, "e_trust_hi": 0.02}
    if true_error:
        levels.update(true_error_f_trust_lo=0.1, true_error_f_trust_hi=0.25,
                      true_error_e_trust_lo=1e10, true_error_e_trust_hi=1e10)

    # raygen: the rest of iteration 0 and the deviations of iteration 1, then its step 5
    run = tmp_path / "run"
    shutil.copytree(data, run / "iter.000000" / "01.model_devi" / "data.rest")
    md1 = run / "iter.000001" / "01.model_devi"
    md1.mkdir(parents=True)
    pq.write_table(details, md1 / "details.parquet")
    if errors is not None:
        pq.write_table(errors, md1 / "true_error.parquet")
    cfg = cfg_with(f"workdir={run}", f"simplify.pick_data=[{data}]", "simplify.labeled=true",
                   "simplify.init_pick_number=1", "simplify.iter_pick_number=5",
                   "systems=[]", *[f"simplify.{k}={v}" for k, v in levels.items()])
    Simplify(cfg).post_model_devi(1)

    # DP-GEN: the same data as data.rest.old, the same details files
    dp = tmp_path / "dpgen" / "iter.000001" / "01.model_devi"
    shutil.copytree(data, dp / "data.rest.old")
    (dp / "details").write_text(details_text(details))
    if errors is not None:
        (dp / "true_error").write_text(details_text(errors))
    jdata = {"type_map": ["Cu"], "labeled": True, "iter_pick_number": 5,
             **{f"model_devi_{k}": v for k, v in levels.items() if not k.startswith("true")},
             **{k: v for k, v in levels.items() if k.startswith("true")}}
    proc = subprocess.run([str(dpgen_python), "-c", textwrap.dedent(DPGEN_CALL),
                           json.dumps(jdata), str(tmp_path / "dpgen")],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]

    ours = {k: energies(md1 / f"data.{k}") for k in ("picked", "rest", "accurate")}
    ref = {k: energies(dp / f"data.{k}") for k in ("picked", "rest", "accurate")}
    assert ours["accurate"] == ref["accurate"]
    assert len(ours["picked"]) == len(ref["picked"]) == 5
    assert sorted(ours["picked"] + ours["rest"]) == sorted(ref["picked"] + ref["rest"])
    assert len(ours["rest"]) == len(ref["rest"]) > 0
    assert 0 < len(ours["accurate"]) < n
