"""DP-GEN's old VASP shorthand ``fp_params`` imported: the INCAR raygen writes from the
imported keys against the one DP-GEN 0.14 writes (``make_vasp_incar_user_dict``)."""

import json
import subprocess
import textwrap
from pathlib import Path

import pytest

from raygen.config.dpgen_import import import_param
from raygen.labelers.vasp import VaspLabelConfig, incar_text, parse_incar

pytestmark = pytest.mark.slow

EXAMPLES = Path(__file__).parent / "dpgen_examples"
DPGEN_CALL = """
import json, sys
from dpgen.generator.lib.vasp import make_vasp_incar_user_dict
print(json.dumps(make_vasp_incar_user_dict(json.loads(sys.argv[1]))))
"""


def same(value: str) -> str:
    """An INCAR value as VASP reads it (T/.TRUE., 1e-06/1E-6, 400/400.0 alike)."""
    v = value.strip().upper().strip(".")
    if v in ("T", "TRUE", "F", "FALSE"):
        return v[0]
    try:
        return repr(float(v))
    except ValueError:
        return v


@pytest.mark.parametrize("fp_params", [
    json.loads((EXAMPLES / "ch4-param.json").read_text())["fp_params"],
    {"ecut": 520, "ediff": 1e-5, "npar": 2, "kpar": 2, "kspacing": 0.2, "smearing": "mp:2",
     "sigma": 0.1, "metagga": "SCAN", "user_vasp_params": {"nelm": 120, "ADDGRID": "T"}},
])
def test_the_incar_of_fp_params_is_dpgens(tmp_path, dpgen_python, fp_params):
    proc = subprocess.run([str(dpgen_python), "-c", textwrap.dedent(DPGEN_CALL),
                           json.dumps(fp_params)], capture_output=True, text=True,
                          timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    theirs = parse_incar(json.loads(proc.stdout.strip().splitlines()[-1]))

    imp = import_param({"type_map": ["H", "C"], "fp_style": "vasp", "fp_params": fp_params})
    assert not imp.unsupported
    label = imp.settings["label"]
    ours = parse_incar(incar_text(VaspLabelConfig(
        incar_tags=label["incar_tags"], kspacing=label["kspacing"], kgamma=label["kgamma"])))
    assert {k: same(v) for k, v in theirs.items()} == \
        {k: same(v) for k, v in ours.items() if k in theirs}
    # what raygen writes and DP-GEN leaves to VASP: VASP's own defaults
    vasp_defaults = {"ISMEAR": "1", "SIGMA": "0.2", "NELM": "60"}
    extra = {k: ours[k] for k in set(ours) - set(theirs)}
    assert {k: same(v) for k, v in extra.items()} == \
        {k: same(v) for k, v in vasp_defaults.items() if k in extra}, extra
