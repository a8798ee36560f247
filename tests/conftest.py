"""Shared fixtures: small data made here, real models trained once per session."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import pytest
from ase.calculators.emt import EMT

from raygen.config.schema import InitConfig, SystemConfig, TrainConfig
from raygen.science.dataset import init_md_frames, write_deepmd_npy
from raygen.science.structures import build_system, perturb, relax

REPO = Path(__file__).resolve().parent.parent

# One fresh HOME for the whole session: Ray keeps an auth token under ~/.ray, and
# a Ray started later in the same process must find the token an earlier one made
# (a HOME changed between two ray.init calls breaks the second; a stale token from
# another run breaks the first).
os.environ["HOME"] = tempfile.mkdtemp(prefix="raygen-test-home-")
# Under pytest-xdist (README's test command runs the unit tests on 2 workers) each worker
# gets its own Ray temp root: a ray.init() without an address looks for "the current
# cluster" there, and must start its own, not join the other worker's.
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ["RAY_TMPDIR"] = tempfile.mkdtemp(
        prefix=f"ray-{os.environ['PYTEST_XDIST_WORKER']}-", dir="/tmp")

for var in ("OMP_NUM_THREADS", "DP_INTRA_OP_PARALLELISM_THREADS",
            "DP_INTER_OP_PARALLELISM_THREADS"):
    os.environ.setdefault(var, "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

TINY_TRAIN_INPUT = {
    "model": {
        "descriptor": {"type": "se_e2_a", "rcut": 4.5, "rcut_smth": 0.5, "sel": [80],
                       "neuron": [8, 16], "axis_neuron": 4},
        "fitting_net": {"neuron": [32, 32]},
    },
    "learning_rate": {"type": "exp", "start_lr": 0.002, "stop_lr": 1e-4, "decay_steps": 50},
    "loss": {"type": "ener", "start_pref_e": 0.02, "limit_pref_e": 1, "start_pref_f": 1000,
             "limit_pref_f": 1, "start_pref_v": 0.02, "limit_pref_v": 1},
    "training": {"training_data": {"batch_size": "auto"}},
}


def cu_frames(n_perturb: int = 2, md_steps: int = 6, seed: int = 0) -> list:
    """EMT-labelled frames of perturbed fcc Cu (32 atoms)."""
    base = relax(build_system(SystemConfig(name="fcc", a=3.61)), EMT())
    rng = np.random.default_rng(seed)
    frames = []
    for k in range(n_perturb):
        start = perturb(base, rng, 0.05, 0.03)
        frames += init_md_frames(start, EMT(), InitConfig(md_steps=md_steps, md_temperature=300),
                                 seed=seed + k)
    return frames


@pytest.fixture(scope="session")
def cu_data(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("data")
    write_deepmd_npy(cu_frames(), ["Cu"], root)
    return root / "Cu32"


def train_tiny_models(root: Path, data: Path, backend: str) -> list[Path]:
    """Two real DeePMD-kit models of ``backend``, 100 steps each, differing in seed."""
    from raygen.actors.trainer import train_member
    from raygen.config.backend import graph_name
    from raygen.science.training_input import make_training_input

    cfg = TrainConfig(numb_steps=100, input=TINY_TRAIN_INPUT, disp_freq=50, backend=backend)
    paths = []
    for m in range(2):
        inp = make_training_input(cfg, ["Cu"], [data], 0, m, False)
        graph = root / graph_name(m, backend)
        train_member(root / f"{m:03d}", inp, graph, backend)
        paths.append(graph)
    return paths


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory, cu_data) -> list[Path]:
    """Two real DeePMD-kit (TensorFlow) models, 100 steps each, differing in seed."""
    return train_tiny_models(tmp_path_factory.mktemp("models"), cu_data, "tf")


@pytest.fixture(scope="session")
def tiny_pt_models(tmp_path_factory, cu_data) -> list[Path]:
    """The same two models trained with deepmd-kit's PyTorch backend (``.pth``)."""
    return train_tiny_models(tmp_path_factory.mktemp("pt_models"), cu_data, "pt")


@pytest.fixture(params=["tf", "pt"])
def backend_models(request) -> tuple[str, list[Path]]:
    """(backend, its two tiny models): a test run with each deepmd-kit backend."""
    name = "tiny_models" if request.param == "tf" else "tiny_pt_models"
    return request.param, request.getfixturevalue(name)


@pytest.fixture(scope="session")
def dpgen_python(tmp_path_factory):
    """A venv with DP-GEN 0.14.0 from the package registry (as bench/cu_quick does):
    the reference its rules are checked against."""
    import subprocess
    import sys

    venv = tmp_path_factory.mktemp("dpgen_venv")
    py = venv / "bin" / "python"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    proc = subprocess.run([str(py), "-m", "pip", "install", "--quiet", "dpgen==0.14.0"],
                          capture_output=True, text=True, timeout=900)
    if proc.returncode != 0:
        pytest.skip(f"cannot install dpgen 0.14.0: {proc.stderr[-500:]}")
    return py
