import numpy as np

from raygen.science.frames import frames_table, row_to_atoms, table_arrays


def test_table_roundtrip_and_atoms():
    rng = np.random.default_rng(0)
    cells = np.stack([np.eye(3) * 5.0 + 0.1 * i for i in range(3)])
    pos = rng.uniform(0, 5, size=(3, 4, 3))
    table = frames_table("task.000.000001", 0, np.array([0, 10, 20]), cells, pos, [0, 1, 0, 1])
    assert table.num_rows == 3 and table.column("natoms").to_pylist() == [4, 4, 4]
    c, p, t = table_arrays(table)
    np.testing.assert_array_equal(c, cells)
    np.testing.assert_array_equal(p, pos)
    assert t.tolist() == [0, 1, 0, 1]
    atoms = row_to_atoms(table, 2, ["Cu", "Ag"])
    assert atoms.get_chemical_symbols() == ["Cu", "Ag", "Cu", "Ag"]
    np.testing.assert_array_equal(atoms.positions, pos[2])
    assert atoms.pbc.all()
