"""Settings of the property tests (``props.*``), a Hydra structured config used by
``python -m raygen.props`` and by the optional ``props`` step at the end of a run."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

ALL = ["equilibrium", "eos", "elastic", "vacancy", "interstitial", "surface",
       "stacking_fault", "phonon"]

# tolerance of each scalar (fnmatch pattern -> "0.2%" relative, or an absolute value in
# the scalar's unit); the first pattern that matches decides, none: reported, not judged.
# The DP-GEN paper's Table II accuracies, loosened a little (see the README).
TOLERANCES = {
    "equilibrium.a_A": "0.1%",
    "equilibrium.V0_A3_per_atom": "0.2%",
    "eos.*.V0_A3_per_atom": "0.5%",
    "eos.*.dE_eV_per_atom": "0.03",
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
    element: Optional[str] = None
    crystal: str = "fcc"
    a: float = 3.6
    properties: list[str] = field(default_factory=lambda: list(ALL))
    phases: list[str] = field(default_factory=lambda: ["fcc", "hcp", "bcc", "sc", "diamond",
                                                       "dhcp"])
    fmax: float = 1e-3             # eV/Å, every relaxation
    eos_points: int = 11
    eos_range: float = 0.10        # volumes from (1 - r) to (1 + r) of each phase's relaxed one
    elastic_strains: list[float] = field(default_factory=lambda: [-0.01, -0.005, 0.005, 0.01])
    elastic_relax_ions: bool = True
    defect_min_atoms: int = 100
    interstitial_sites: list[str] = field(default_factory=lambda: [
        "octahedral", "tetrahedral", "dumbbell_100"])
    surfaces: list[str] = field(default_factory=lambda: ["100", "110", "111"])
    surface_layers: int = 9
    vacuum: float = 10.0
    sf_layers: int = 4             # x 3 (111) layers
    sf_points: int = 11
    phonon_supercell: int = 3      # repeats of the (conventional) cell
    phonon_displacement: float = 0.01
    tolerances: dict[str, str] = field(default_factory=lambda: dict(TOLERANCES))
    cache_dir: Optional[str] = None  # null: <out>/cache
    num_cpus: float = 1.0          # per point (Ray task)
