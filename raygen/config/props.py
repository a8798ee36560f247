"""Settings of the property tests (``props.*``), a Hydra structured config used by
``python -m raygen.props`` and by the optional ``props`` step at the end of a run."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

ALL = ["equilibrium", "eos", "elastic", "vacancy", "interstitial", "surface",
       "stacking_fault", "phonon"]

# tolerance of each scalar (fnmatch pattern -> "0.2%" relative, an absolute value in
# the scalar's unit, or "N% or X": the larger); the first pattern that matches decides,
# none: reported, not judged. A value passes when the ensemble mean is within the
# tolerance of the reference and the ensemble's spread (std) is no larger than it.
# The DP-GEN paper's Table II accuracies, loosened a little (see the README); phase
# energy differences relative to their own size (10 %), with a 2 meV/atom floor (the
# precision of the first-principles references themselves).
TOLERANCES = {
    "equilibrium.a_A": "0.1%",
    "equilibrium.V0_A3_per_atom": "0.2%",
    "eos.*.V0_A3_per_atom": "0.5%",
    "eos.*.dE_eV_per_atom": "10% or 0.002",
    "eos.*.B0_GPa": "5%",
    "elastic.C*_GPa": "3%",
    "elastic.B_H_GPa": "3%",
    "elastic.G_H_GPa": "3%",
    "elastic.born_stable": "0",
    "vacancy.E_f_eV": "0.03",
    "interstitial.*.E_f_eV": "0.1",
    "surface.*.gamma_J_m2": "3%",
    "stacking_fault.gamma_isf_mJ_m2": "2",
    "stacking_fault.gamma_usf_mJ_m2": "5",
    "phonon.max_freq_THz": "3%",
    "phonon.imaginary": "0",
}


@dataclass
class PropsConfig:
    """``enabled``: run them at the end of a run (``python -m raygen``); ``element``
    null: the run's first ``type_map`` entry; ``crystal``, ``a``: the ground state and
    a lattice constant to start relaxing from."""

    enabled: bool = False
    """run the property tests at the end of a run"""
    element: Optional[str] = None
    """element tested; null: the run's first `type_map` entry"""
    crystal: str = "fcc"
    """ground-state crystal"""
    a: float = 3.6
    """lattice constant the relaxations start from (Å)"""
    properties: list[str] = field(default_factory=lambda: list(ALL))
    """properties to test"""
    phases: list[str] = field(default_factory=lambda: ["fcc", "hcp", "bcc", "sc", "diamond",
                                                       "dhcp"])
    """phases of the EOS and phase-energy comparison"""
    fmax: float = 1e-3             # eV/Å, every relaxation
    """force threshold of every relaxation (eV/Å)"""
    eos_points: int = 11
    """volumes per equation of state"""
    eos_range: float = 0.10        # volumes from (1 - r) to (1 + r) of each phase's relaxed one
    """volumes from (1 - r) to (1 + r) of each phase's relaxed volume (fraction)"""
    elastic_strains: list[float] = field(default_factory=lambda: [-0.01, -0.005, 0.005, 0.01])
    """strains of the elastic-constant fits (fractions)"""
    elastic_relax_ions: bool = True
    """relax the ions in each strained cell"""
    defect_min_atoms: int = 100
    """smallest supercell for point defects (atoms)"""
    interstitial_sites: list[str] = field(default_factory=lambda: [
        "octahedral", "tetrahedral", "dumbbell_100"])
    """self-interstitial sites tested"""
    surfaces: list[str] = field(default_factory=lambda: ["100", "110", "111"])
    """surfaces whose energies are tested (Miller indices)"""
    surface_layers: int = 9
    """layers of each surface slab"""
    vacuum: float = 10.0
    """vacuum of each surface slab (Å)"""
    sf_layers: int = 4             # x 3 (111) layers
    """(111) stacking-fault cell height in units of 3 layers"""
    sf_points: int = 11
    """points along the generalised stacking-fault line"""
    phonon_supercell: int = 3      # repeats of the (conventional) cell
    """repeats of the conventional cell for phonons"""
    phonon_displacement: float = 0.01
    """finite displacement for phonons (Å)"""
    tolerances: dict[str, str] = field(default_factory=lambda: dict(TOLERANCES))
    """pass/fail tolerance per row of the table (absolute, `N%`, or `N% or X`: the larger);
    the ensemble's spread must also be within it"""
    cache_dir: Optional[str] = None  # null: <out>/cache
    """cache of evaluated points, by content; null: `<out>/cache`"""
    num_cpus: float = 1.0          # per point (Ray task)
    """CPUs per evaluated point (Ray task)"""
