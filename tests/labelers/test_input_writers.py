"""VASP, ABACUS, Gaussian and SIESTA: what raygen writes for them, and how it judges
and reads what they write.

None of these codes can run here (VASP and Gaussian are licensed; ABACUS and
SIESTA have no package for this machine). The inputs are checked against what the
codes require (species order against the pseudopotentials, units, k-points, the
single-point keys). The outputs are files written by this test in each code's
output format (the lines its parser reads, in the code's units) from an EMT
calculation of the frame: reading them back must give EMT's energy, forces (in the
frame's atom order) and stress — the unit conversions and atom bookkeeping of the
reading path, not the codes' physics.
"""

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk
from ase.calculators.emt import EMT
from ase.units import Bohr, GPa, Hartree

from raygen.labelers import LabelStatus, make_labeler
from raygen.labelers.abacus import AbacusLabelConfig
from raygen.labelers.gaussian import GaussianLabelConfig
from raygen.labelers.siesta import SiestaLabelConfig
from raygen.labelers.vasp import VaspLabelConfig, parse_incar

KBAR = 0.1 * GPa  # eV/Å³


def mixed_frame() -> Atoms:
    """Cu and Ni interleaved (Cu Ni Cu Ni ...), rattled: codes that list atoms by
    species must not mix up whose force is whose."""
    atoms = bulk("Cu", "fcc", a=3.6, cubic=True).repeat((1, 1, 2))
    atoms.symbols[1::2] = "Ni"
    atoms.positions += np.random.default_rng(0).normal(scale=0.05, size=atoms.positions.shape)
    return atoms


def emt(atoms: Atoms) -> tuple[float, np.ndarray, np.ndarray]:
    a = atoms.copy()
    a.calc = EMT()
    return a.get_potential_energy(), a.get_forces(), a.get_stress(voigt=False)


def grouped(atoms: Atoms):
    from raygen.labelers.external import species_order

    species, perm = species_order(atoms)
    return species, perm, atoms[perm]


# -- VASP -----------------------------------------------------------------------
def fake_outcar(atoms: Atoms, nelm: int = 60, electronic_steps: int = 12,
                finished: bool = True) -> str:
    """An OUTCAR of a single point of the (species-grouped) ``atoms``."""
    species, _, g = grouped(atoms)
    e, f, s = emt(g)
    counts = [g.get_chemical_symbols().count(el) for el in species]
    lines = [f" POTCAR:    PAW_PBE {el} 22Jun2005" for el in species] * 2
    lines += [f"   NELM   = {nelm:6d};   NELMIN=  2; NELMDL= -5     elect. loop",
              "   NWRITE =      2    write-flag",
              "   ions per type =    " + "  ".join(str(c) for c in counts)]
    for k in range(1, electronic_steps + 1):
        lines.append(f"--------------------------------------- Iteration      1({k:4d})  "
                     "---------------------------------------")
    kb = -s / KBAR  # VASP prints the pressure-like tensor in kB
    lines += ["  FORCE on cell =-STRESS in cart. coord.  units (eV):",
              "  Direction    XX          YY          ZZ          XY          YZ          ZX",
              "  " + "-" * 86]
    lines += [f"  filler{k}   0.0 0.0 0.0 0.0 0.0 0.0" for k in range(11)]
    lines.append("  in kB  " + " ".join(f"{kb[i, j]:12.5f}" for i, j in
                                         ((0, 0), (1, 1), (2, 2), (0, 1), (1, 2), (0, 2))))
    lines += [" VOLUME and BASIS-vectors are now :", " " + "-" * 77,
              "  energy-cutoff  :      400.00",
              f"  volume of cell : {g.get_volume():12.2f}",
              "      direct lattice vectors                 reciprocal lattice vectors"]
    lines += ["  " + " ".join(f"{x:12.9f}" for x in v) + "   0.0 0.0 0.0" for v in g.cell]
    lines += ["", " POSITION                                       TOTAL-FORCE (eV/Angst)",
              " " + "-" * 83]
    lines += [" " + " ".join(f"{x:12.5f}" for x in p) + "    "
              + " ".join(f"{x:13.6f}" for x in fr) for p, fr in zip(g.positions, f)]
    lines += [" " + "-" * 83, "", "  FREE ENERGIE OF THE ION-ELECTRON SYSTEM (eV)",
              "  ---------------------------------------------------",
              f"  free  energy   TOTEN  = {e:18.8f} eV", ""]
    if finished:
        lines += [" General timing and accounting informations for this job:", ""]
    return "\n".join(lines) + "\n"


@pytest.fixture
def potcars(tmp_path):
    for el in ("Cu", "Ni"):
        (tmp_path / "pp" / el).mkdir(parents=True)
        (tmp_path / "pp" / el / "POTCAR").write_text(
            f"  PAW_PBE {el} 22Jun2005\n   11.0000\n parameters from PSCTR are:\n"
            f"   TITEL  = PAW_PBE {el} 22Jun2005\n End of Dataset\n")
    return tmp_path / "pp"


def vasp_cfg(potcars, tmp_path, **kw) -> VaspLabelConfig:
    incar = tmp_path / "INCAR.template"
    incar.write_text("ENCUT = 650 # cutoff\nISMEAR = 0; SIGMA = 0.05\nNSW = 100\n")
    return VaspLabelConfig(pp_path=str(potcars), pp_files={"Cu": "Cu/POTCAR",
                                                          "Ni": "Ni/POTCAR"},
                           incar=str(incar), kspacing=0.25, **kw)


def test_vasp_inputs_keep_species_potcar_and_single_point_keys(potcars, tmp_path):
    from ase.io import read

    atoms = mixed_frame()
    lab = make_labeler(vasp_cfg(potcars, tmp_path, incar_tags={"ALGO": "Fast"}))
    task = tmp_path / "task"
    task.mkdir()
    lab.write_code_inputs(atoms, task, {"NELM": 300})
    poscar = (task / "POSCAR").read_text().splitlines()
    assert poscar[5].split() == ["Cu", "Ni"] and poscar[6].split() == ["4", "4"]
    potcar = (task / "POTCAR").read_text()
    assert potcar.index("PAW_PBE Cu") < potcar.index("PAW_PBE Ni")
    back = read(task / "POSCAR", format="vasp")
    _, perm, g = grouped(atoms)
    np.testing.assert_allclose(back.positions, g.positions, atol=1e-6)
    np.testing.assert_allclose(back.cell, atoms.cell, atol=1e-9)
    tags = parse_incar((task / "INCAR").read_text())
    assert tags["ENCUT"] == "650" and tags["SIGMA"] == "0.05" and tags["ALGO"] == "Fast"
    assert tags["NSW"] == "0" and tags["IBRION"] == "-1" and tags["NELM"] == "300"
    assert tags["KSPACING"] == "0.25" and tags["KGAMMA"] == ".FALSE."
    assert not (task / "KPOINTS").exists()


def test_vasp_potcar_of_another_element_is_refused(potcars, tmp_path):
    cfg = vasp_cfg(potcars, tmp_path)
    cfg.pp_files = {"Cu": "Ni/POTCAR", "Ni": "Ni/POTCAR"}
    problems = make_labeler(cfg).problems(["Cu", "Ni"])
    assert problems and "label.pp_files.Cu" in problems[0] and "'Ni'" in problems[0]
    assert "no file for Ni" in make_labeler(
        VaspLabelConfig(pp_path=str(potcars), pp_files={"Cu": "Cu/POTCAR"})
    ).problems(["Cu", "Ni"])[0]


def test_vasp_outcar_is_judged_and_read_in_the_frames_order(potcars, tmp_path):
    atoms = mixed_frame()
    lab = make_labeler(vasp_cfg(potcars, tmp_path))
    task = tmp_path / "task"
    task.mkdir()
    lab.write_code_inputs(atoms, task, None)
    (task / "OUTCAR").write_text(fake_outcar(atoms))
    assert lab.judge(task, 0).status is LabelStatus.CONVERGED
    label = lab.read_label(task, atoms)
    e, f, s = emt(atoms)
    assert label.get_potential_energy() == pytest.approx(e, abs=1e-6)
    np.testing.assert_allclose(label.get_forces(), f, atol=2e-6)
    np.testing.assert_allclose(label.get_stress(voigt=False), s, atol=1e-6)
    assert label.get_chemical_symbols() == atoms.get_chemical_symbols()
    # NELM reached: VASP wrote forces anyway, it is not a label
    (task / "OUTCAR").write_text(fake_outcar(atoms, nelm=60, electronic_steps=60))
    outcome = lab.judge(task, 0)
    assert outcome.status is LabelStatus.SCF_UNCONVERGED and "NELM = 60" in outcome.message
    (task / "OUTCAR").write_text(fake_outcar(atoms, finished=False))
    assert lab.judge(task, 0).status is LabelStatus.UNPARSABLE
    assert lab.judge(task, 137).status is LabelStatus.CRASHED
    (task / "OUTCAR").unlink()
    assert lab.judge(task, 1).status is LabelStatus.CRASHED


# -- ABACUS ---------------------------------------------------------------------
def fake_running_scf(atoms: Atoms, converged: bool = True) -> str:
    species, _, g = grouped(atoms)
    e, f, s = emt(g)
    if not converged:
        return " ITER   ETOT(eV)\n GE1  -1.0\n !! convergence has not been achieved @_@\n"
    lines = [" ITER   ETOT(eV)", " GE1 -1.0", " charge density convergence is achieved",
             f" final etot is {e:.10f} eV", "", " TOTAL-FORCE (eV/Angstrom)", " " + "-" * 40]
    count: dict[str, int] = {}
    for el, fr in zip(g.get_chemical_symbols(), f):
        count[el] = count.get(el, 0) + 1
        lines.append(f" {el}{count[el]} " + " ".join(f"{x:.10f}" for x in fr))
    lines += [" " + "-" * 40, "", " TOTAL-STRESS (KBAR)", " " + "-" * 40]
    lines += [" " + " ".join(f"{x:.10f}" for x in row) for row in -s / KBAR]
    lines += [" " + "-" * 40, " TOTAL-PRESSURE: 0.0 KBAR", ""]
    return "\n".join(lines) + "\n"


def test_abacus_inputs_and_log_are_judged_and_read(tmp_path):
    pp = tmp_path / "pp"
    pp.mkdir()
    for el in ("Cu", "Ni"):
        (pp / f"{el}.upf").write_text("<UPF/>\n")
    atoms = mixed_frame()
    cfg = AbacusLabelConfig(pp_path=str(pp), pp_files={"Cu": "Cu.upf", "Ni": "Ni.upf"},
                            input={"ecutwfc": 80}, kspacing=None, kpoints=[3, 3, 2])
    lab = make_labeler(cfg)
    assert lab.problems(["Cu", "Ni"]) == []
    assert "no file for Ni" in make_labeler(AbacusLabelConfig(
        pp_path=str(pp), pp_files={"Cu": "Cu.upf"})).problems(["Cu", "Ni"])[0]
    task = tmp_path / "task"
    task.mkdir()
    lab.write_code_inputs(atoms, task, {"scf_nmax": 300})
    inp = dict(ln.split(None, 1) for ln in (task / "INPUT").read_text().splitlines()[1:])
    assert inp["calculation"].strip() == "scf" and inp["ecutwfc"].strip() == "80"
    assert inp["cal_force"].strip() == "1" and inp["scf_nmax"].strip() == "300"
    stru = (task / "STRU").read_text()
    assert stru.index("Cu.upf") < stru.index("Ni.upf")
    assert "3 3 2" in (task / "KPT").read_text()
    (task / "OUT.ABACUS").mkdir()
    log = task / "OUT.ABACUS" / "running_scf.log"
    log.write_text(fake_running_scf(atoms))
    assert lab.judge(task, 0).status is LabelStatus.CONVERGED
    label = lab.read_label(task, atoms)
    e, f, s = emt(atoms)
    assert label.get_potential_energy() == pytest.approx(e, abs=1e-6)
    np.testing.assert_allclose(label.get_forces(), f, atol=1e-6)
    np.testing.assert_allclose(label.get_stress(voigt=False), s, atol=1e-6)
    log.write_text(fake_running_scf(atoms, converged=False))
    assert lab.judge(task, 0).status is LabelStatus.SCF_UNCONVERGED
    log.write_text(fake_running_scf(atoms).split(" TOTAL-FORCE")[0])
    assert lab.judge(task, 0).status is LabelStatus.UNPARSABLE


# -- Gaussian -------------------------------------------------------------------
def fake_gaussian_log(atoms: Atoms, converged: bool = True) -> str:
    from ase.data import atomic_numbers

    e, f, _ = emt(Atoms(atoms.symbols, atoms.positions, cell=[20, 20, 20], pbc=True))
    head = ["                          Input orientation:",
            " " + "-" * 69,
            " Center     Atomic      Atomic             Coordinates (Angstroms)",
            " Number     Number       Type             X           Y           Z",
            " " + "-" * 69]
    head += [f"{i + 1:>7d}{atomic_numbers[s]:>11d}{0:>12d}    "
             + "".join(f"{x:12.6f}" for x in p)
             for i, (s, p) in enumerate(zip(atoms.get_chemical_symbols(), atoms.positions))]
    head.append(" " + "-" * 69)
    if not converged:
        return "\n".join(head + [" >>>>>>>>>> Convergence criterion not met.",
                                 " Convergence failure -- run terminated.",
                                 " Error termination via Lnk1e"]) + "\n"
    body = [f" SCF Done:  E(RB3LYP) = {e / Hartree:18.9f}     A.U. after   12 cycles",
            " " + "-" * 67,
            " Center     Atomic                   Forces (Hartrees/Bohr)",
            " Number     Number              X              Y              Z",
            " " + "-" * 67]
    fh = f / (Hartree / Bohr)
    body += [f"{i + 1:>7d}{atomic_numbers[s]:>9d}{'':7}" + "".join(f"{x:15.9f}" for x in fr)
             for i, (s, fr) in enumerate(zip(atoms.get_chemical_symbols(), fh))]
    body += [" " + "-" * 67, " Normal termination of Gaussian 16 at Sun Nov 22 12:00:00 2026."]
    return "\n".join(head + body) + "\n"


def test_gaussian_input_and_log_are_judged_and_read(tmp_path):
    atoms = Atoms("Cu3Ni", positions=[[0, 0, 0], [2.5, 0, 0], [0, 2.5, 0], [1.2, 1.2, 1.9]])
    cfg = GaussianLabelConfig(method="PBEPBE", basis="def2SVP", keywords="scf=tight",
                              charge=-1, multiplicity=2)
    lab = make_labeler(cfg)
    task = tmp_path / "task"
    task.mkdir()
    lab.write_code_inputs(atoms, task, None)
    text = (task / "input.gjf").read_text()
    route = text[text.index("#"):text.index("\n\n")]  # the route section, to its blank line
    assert "PBEPBE/def2SVP" in route and "force" in route.lower().split()
    assert "nosymm" in route and "scf=tight" in route
    assert "-1 2" in text.splitlines()
    (task / "input.log").write_text(fake_gaussian_log(atoms))
    assert lab.judge(task, 0).status is LabelStatus.CONVERGED
    label = lab.read_label(task, atoms)
    e, f, _ = emt(Atoms(atoms.symbols, atoms.positions, cell=[20, 20, 20], pbc=True))
    assert label.get_potential_energy() == pytest.approx(e, abs=1e-5)
    np.testing.assert_allclose(label.get_forces(), f, atol=1e-6)
    (task / "input.log").write_text(fake_gaussian_log(atoms, converged=False))
    assert lab.judge(task, 1).status is LabelStatus.SCF_UNCONVERGED
    (task / "input.log").write_text(fake_gaussian_log(atoms).replace("Normal termination", ""))
    assert lab.judge(task, 0).status is LabelStatus.UNPARSABLE


# -- SIESTA ---------------------------------------------------------------------
def fake_siesta_out(atoms: Atoms, converged: bool = True) -> str:
    species = list(dict.fromkeys(atoms.get_chemical_symbols()))
    e, f, s = emt(atoms)
    if not converged:
        return "siesta: ERROR: SCF_NOT_CONV: SCF did not converge in maximum number of steps\n"
    lines = [f"redata: Number of Atomic Species         =        {len(species)}"]
    lines += [f"Species number:   {i + 1} Atomic number:   29 Label: {el}"
              for i, el in enumerate(species)]
    lines.append("initatomlists: Number of atoms, orbitals, and projectors:     "
                 f"{len(atoms)}    60    64")
    lines.append("outcoor: Atomic coordinates (Ang):")
    lines += [f"   {x:12.8f} {y:12.8f} {z:12.8f}   {species.index(sym) + 1}   {i + 1}  {sym}"
              for i, (sym, (x, y, z)) in enumerate(zip(atoms.get_chemical_symbols(),
                                                         atoms.positions))]
    lines += ["", "outcell: Unit cell vectors (Ang):"]
    lines += ["   " + " ".join(f"{x:12.6f}" for x in v) for v in atoms.cell] + [""]
    lines += [f"siesta: E_KS(eV) =        {e:.4f}", "", "siesta: Atomic forces (eV/Ang):"]
    lines += [f"   {i + 1:4d}  " + " ".join(f"{x:12.6f}" for x in fr)
              for i, fr in enumerate(f)]
    lines += ["siesta: ----------------------------------------", "",
              "siesta: Stress tensor (static) (eV/Ang**3):"]
    lines += ["siesta:   " + " ".join(f"{x:12.6f}" for x in row) for row in -s]
    lines += ["", ">> End of run:  22-NOV-2026  12:00:00", "Job completed"]
    return "\n".join(lines) + "\n"


def test_siesta_inputs_and_output_are_judged_and_read(tmp_path):
    pp = tmp_path / "pp"
    pp.mkdir()
    (pp / "Cu.psf").write_text("Cu pbe\n")
    atoms = bulk("Cu", "fcc", a=3.6, cubic=True)
    atoms.positions += np.random.default_rng(1).normal(scale=0.05, size=atoms.positions.shape)
    cfg = SiestaLabelConfig(pp_path=str(pp), kspacing=None, kpoints=[4, 4, 3],
                            fdf={"DM.MixingWeight": 0.1})
    lab = make_labeler(cfg)
    assert lab.problems(["Cu"]) == []
    assert "no Ni.psf" in lab.problems(["Cu", "Ni"])[0]
    task = tmp_path / "task"
    task.mkdir()
    lab.write_code_inputs(atoms, task, {"MaxSCFIterations": 400})
    fdf = (task / "input.fdf").read_text()
    assert "NumberOfAtoms 4" in fdf and "SCF.MustConverge true" in fdf
    assert "MaxSCFIterations 400" in fdf and "DM.MixingWeight 0.1" in fdf
    assert " 1 29 Cu" in fdf and " 4 0 0 0.0" in fdf and " 0 0 3 0.0" in fdf
    assert (task / "Cu.psf").exists()
    (task / "stdout.log").write_text(fake_siesta_out(atoms))
    assert lab.judge(task, 0).status is LabelStatus.CONVERGED
    label = lab.read_label(task, atoms)
    e, f, s = emt(atoms)
    assert label.get_potential_energy() == pytest.approx(e, abs=1e-4)
    np.testing.assert_allclose(label.get_forces(), f, atol=1e-6)
    np.testing.assert_allclose(label.get_stress(voigt=False), s, atol=1e-6)
    (task / "stdout.log").write_text(fake_siesta_out(atoms, converged=False))
    assert lab.judge(task, 1).status is LabelStatus.SCF_UNCONVERGED
    (task / "stdout.log").write_text(fake_siesta_out(atoms).replace("End of run", ""))
    assert lab.judge(task, 0).status is LabelStatus.UNPARSABLE


def test_users_own_templates_get_the_structure(tmp_path):
    atoms = Atoms("Cu2Ni", positions=[[0, 0, 0], [2.5, 0, 0], [0, 2.5, 0]],
                  cell=[8, 8, 8], pbc=True)
    task = tmp_path / "task"
    task.mkdir()
    gjf = tmp_path / "mine.gjf"
    gjf.write_text("%chk=x.chk\n#P wB97XD/def2TZVP force nosymm int=ultrafine\n\nmine\n\n"
                   "{{structure}}\n\n")
    lab = make_labeler(GaussianLabelConfig(template=str(gjf), charge=1, multiplicity=2))
    lab.write_code_inputs(atoms, task, None)
    text = (task / "input.gjf").read_text()
    assert "wB97XD/def2TZVP" in text and "{{structure}}" not in text
    lines = text.splitlines()
    at = lines.index("1 2")
    assert [ln.split()[0] for ln in lines[at + 1:at + 4]] == ["Cu", "Cu", "Ni"]

    pp = tmp_path / "pp"
    pp.mkdir()
    for el in ("Cu", "Ni"):
        (pp / f"{el}.psf").write_text("x\n")
    fdf = tmp_path / "mine.fdf"
    fdf.write_text("SystemLabel mine\nMeshCutoff 500 Ry\n{{structure}}\n")
    make_labeler(SiestaLabelConfig(template=str(fdf), pp_path=str(pp))).write_code_inputs(
        atoms, task, None)
    text = (task / "input.fdf").read_text()
    assert "MeshCutoff 500 Ry" in text and "NumberOfAtoms 3" in text
    assert " 1 29 Cu" in text and " 2 28 Ni" in text

    (pp / "Cu.upf").write_text("x\n")
    (pp / "Ni.upf").write_text("x\n")
    inp = tmp_path / "INPUT.mine"
    inp.write_text("INPUT_PARAMETERS\necutwfc 120 # Ry\nmixing_beta 0.2\ncalculation relax\n")
    make_labeler(AbacusLabelConfig(template=str(inp), pp_path=str(pp),
                                   pp_files={"Cu": "Cu.upf", "Ni": "Ni.upf"})
                 ).write_code_inputs(atoms, task, None)
    keys = dict(ln.split(None, 1) for ln in (task / "INPUT").read_text().splitlines()[1:])
    assert keys["ecutwfc"].strip() == "120" and keys["mixing_beta"].strip() == "0.2"
    assert keys["calculation"].strip() == "scf"  # a labelling run is a single point
