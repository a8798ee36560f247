"""Registries of the plug-ins a config can name: labelers and exploration engines.

Each entry maps a name to ``"module:Class"``; the class is imported only when
used. Adding a plug-in is one module (the class and its config dataclass), one
line here and one YAML in ``conf/<group>/``. The names are also the enums that
OmegaConf checks ``label.name`` and ``explore.engine`` against at composition.
"""

from __future__ import annotations

import importlib

from raygen.config.strenum import vocabulary

LABELERS: dict[str, str] = {
    "emt": "raygen.labelers.emt:EmtLabeler",
    "ase": "raygen.labelers.ase_calc:AseLabeler",
    "custom": "raygen.labelers.custom:CustomLabeler",
    "cp2k": "raygen.labelers.cp2k:Cp2kLabeler",
    "gpaw": "raygen.labelers.gpaw:GpawLabeler",
    "qe": "raygen.labelers.qe:QeLabeler",
    "vasp": "raygen.labelers.vasp:VaspLabeler",
    "abacus": "raygen.labelers.abacus:AbacusLabeler",
    "gaussian": "raygen.labelers.gaussian:GaussianLabeler",
    "siesta": "raygen.labelers.siesta:SiestaLabeler",
    "deepmd": "raygen.labelers.deepmd:DeepmdLabeler",
}

ENGINES: dict[str, str] = {
    "lammps": "raygen.engines.lammps:LammpsEngine",
}

LabelerName = vocabulary("LabelerName", LABELERS, __name__)
EngineName = vocabulary("EngineName", ENGINES, __name__)


def load(registry: dict[str, str], name: str, what: str):
    """The class registered as ``name`` (``what`` names the registry in errors)."""
    try:
        spec = registry[str(name)]
    except KeyError:
        raise ValueError(f"unknown {what} {str(name)!r}; known: "
                         f"{', '.join(sorted(registry))}") from None
    module, _, cls = spec.partition(":")
    return getattr(importlib.import_module(module), cls)


def register_launcher() -> None:
    """raygen's Hydra launcher (sweep members side by side on one Ray cluster),
    registered by hand as Hydra documents for plugins: an editable install's
    import hook hides the ``hydra_plugins`` namespace from Hydra's own scan."""
    from hydra.core.plugins import Plugins

    from hydra_plugins.raygen_launcher.raygen_launcher import RaygenLauncher

    Plugins.instance().register(RaygenLauncher)
