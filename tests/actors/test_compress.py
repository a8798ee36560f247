"""explore.compress: the model that drives MD, compressed by deepmd-kit."""

import numpy as np
from ase.build import bulk

from raygen.actors.trainer import compress_model
from raygen.config.backend import cannot_compress, compressed_name


def test_the_compressed_model_gives_the_same_energies_and_forces(backend_models, tmp_path):
    """``dp --tf compress`` and ``dp --pt compress`` of se_e2_a."""
    from deepmd.infer import DeepPot

    backend, tiny_models = backend_models
    dst = tmp_path / compressed_name(tiny_models[0])
    error, seconds = compress_model(tiny_models[0], dst, backend)
    assert error is None and dst.stat().st_size > 0 and seconds > 0
    atoms = bulk("Cu", "fcc", a=3.6, cubic=True).repeat(2)
    atoms.rattle(0.05, seed=1)
    coords = atoms.positions.reshape(1, -1)
    cell = atoms.cell.array.reshape(1, -1)
    types = [0] * len(atoms)
    e0, f0, _ = DeepPot(str(tiny_models[0])).eval(coords, cell, types)
    e1, f1, _ = DeepPot(str(dst)).eval(coords, cell, types)
    assert abs(float(np.ravel(e1 - e0)[0])) / len(atoms) < 1e-4  # eV/atom: tabulation only
    assert np.abs(f1 - f0).max() < 1e-3  # eV/Å
    assert not (dst.parent / f".{dst.name}.work" / dst.name).exists()  # moved, not copied


def test_a_model_deepmd_cannot_compress_is_refused_with_its_reason(tmp_path):
    bad = tmp_path / "graph.000.pb"
    bad.write_bytes(b"not a model")
    dst = tmp_path / "graph.000.compressed.pb"
    error, _ = compress_model(bad, dst, "tf")
    assert error is not None and error.startswith("dp compress exited")
    assert not dst.exists()


def test_descriptors_deepmd_cannot_tabulate_are_known_before_dp_compress():
    def model(desc):
        return {"model": {"descriptor": desc}}

    assert cannot_compress(model({"type": "se_e2_a"})) == []
    assert cannot_compress(model({"type": "dpa3", "repflow": {}})) == ["dpa3"]
    assert cannot_compress(model({"type": "hybrid", "list": [{"type": "se_e2_a"},
                                                             {"type": "dpa2"}]})) == ["dpa2"]
