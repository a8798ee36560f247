"""The labeler kit: one way to put a code's label on a frame and one judge of a code's
output, shared by every code's labeler."""

from __future__ import annotations

import numpy as np
import pytest
from ase.build import bulk

from raygen.labelers.base import LabelStatus
from raygen.labelers.external import species_order
from raygen.labelers.kit import Markers, attach_label, judge_output, stress_from_virial


def _alloy():
    atoms = bulk("Cu", "fcc", a=3.6, cubic=True)
    atoms.symbols[[1, 3]] = "Ag"  # Cu Ag Cu Ag: a code that groups species lists Cu Cu Ag Ag
    return atoms


def test_forces_come_back_in_the_frames_atom_order():
    atoms = _alloy()
    species, perm = species_order(atoms)
    assert species == ["Cu", "Ag"] and list(perm) == [0, 2, 1, 3]
    forces = np.arange(12.0).reshape(4, 3)  # per atom of the frame
    grouped = forces[perm]                  # as the code prints them
    out = attach_label(atoms, -1.5, grouped, perm=perm, source="OUTCAR")
    assert np.allclose(out.get_forces(), forces)
    assert out.get_potential_energy() == -1.5


def test_stress_from_a_virial_or_a_tensor_and_the_shapes_are_checked():
    atoms = _alloy()
    s = np.array([[1.0, 0.1, 0.2], [0.1, 2.0, 0.3], [0.2, 0.3, 3.0]]) * 1e-3
    virial = -s * atoms.get_volume()
    a = attach_label(atoms, 0.0, np.zeros((4, 3)), virial=virial, source="x")
    b = attach_label(atoms, 0.0, np.zeros((4, 3)), stress=s, source="x")
    assert np.allclose(a.get_stress(), [1e-3, 2e-3, 3e-3, 3e-4, 2e-4, 1e-4])
    assert np.allclose(a.get_stress(), b.get_stress())
    assert np.allclose(stress_from_virial(virial.ravel(), atoms.get_volume()), a.get_stress())
    with pytest.raises(ValueError, match="out.log: forces of shape"):
        attach_label(atoms, 0.0, np.zeros((3, 3)), source="out.log")
    with pytest.raises(ValueError, match="not finite"):
        attach_label(atoms, float("nan"), np.zeros((4, 3)), source="out.log")


MARKERS = Markers("Code", "out.log", unconverged=("SCF NOT CONVERGED",),
                  required=(("ENERGY", "TOTAL ENERGY"), "FORCES", "THE END"),
                  what="energy, forces or the end")


@pytest.mark.parametrize("text, code, status", [
    ("ENERGY 1\nFORCES\nTHE END\n", 0, LabelStatus.CONVERGED),
    ("TOTAL ENERGY 1\nFORCES\nTHE END\n", 0, LabelStatus.CONVERGED),   # either marker
    # unconverged wins over a complete output and over the exit code: never data
    ("SCF NOT CONVERGED\nENERGY 1\nFORCES\nTHE END\n", 0, LabelStatus.SCF_UNCONVERGED),
    ("SCF NOT CONVERGED\n", 3, LabelStatus.SCF_UNCONVERGED),
    ("ENERGY 1\nFORCES\nTHE END\n", 137, LabelStatus.CRASHED),
    ("ENERGY 1\nFORCES\n", 0, LabelStatus.UNPARSABLE),                # truncated
])
def test_one_judge_reads_the_markers_in_order(tmp_path, text, code, status):
    (tmp_path / "out.log").write_text(text)
    (tmp_path / "stderr.log").write_text("MPI_ABORT was invoked\n")
    outcome = judge_output(tmp_path, code, MARKERS)
    assert outcome.status is status
    if status is LabelStatus.CRASHED:
        assert outcome.message == "Code exited 137: MPI_ABORT was invoked"
    if status is LabelStatus.UNPARSABLE:
        assert outcome.message.startswith("out.log: no energy, forces or the end")


def test_a_missing_output_is_unparsable_or_the_crash_it_was(tmp_path):
    assert judge_output(tmp_path, 0, MARKERS).status is LabelStatus.UNPARSABLE
    assert judge_output(tmp_path, 1, MARKERS).status is LabelStatus.CRASHED
