"""What raygen knows about deepmd-kit's backends, in one place.

File names of frozen models and checkpoints, the ``dp`` flag, and what must be
imported before the DeePMD LAMMPS plugin loads in a process.
"""

from __future__ import annotations

from pathlib import Path

from raygen.config.strenum import StrEnum


class Backend(StrEnum):
    """deepmd-kit backend: ``tf`` (TensorFlow, the CPU default) or ``pt`` (PyTorch:
    DPA-2/DPA-3, GPU clusters; deepmd-kit 3.2.0's compiled ops need torch 2.11)."""

    tf = "tf"
    pt = "pt"


MODEL_SUFFIX = {Backend.tf: "pb", Backend.pt: "pth"}
# Checkpoint prefix deepmd-kit writes; `dp train --restart/--init-model` take it.
CHECKPOINT = {Backend.tf: "model.ckpt", Backend.pt: "model.ckpt.pt"}
FROZEN = {Backend.tf: "frozen_model.pb", Backend.pt: "frozen_model.pth"}


# the MD model compressed by `dp compress` (explore.compress): graph.000.compressed.pb
COMPRESSED = "compressed"


def model_suffix(backend: str) -> str:
    return MODEL_SUFFIX[Backend(str(backend))]


def graph_name(member: int, backend: str) -> str:
    """``graph.000.pb``: an ensemble member's frozen model."""
    return f"graph.{member:03d}.{model_suffix(backend)}"


def compressed_name(graph: Path) -> str:
    """``graph.000.compressed.pb`` for ``graph.000.pb``."""
    graph = Path(graph)
    return f"{graph.stem}.{COMPRESSED}{graph.suffix}"


def frozen_models(directory: Path) -> list[Path]:
    """The ensemble members' frozen models in ``directory`` (any backend), in member
    order; a compressed MD model is not a member."""
    suffixes = {f".{s}" for s in MODEL_SUFFIX.values()}
    return sorted(p for p in Path(directory).glob("graph.*")
                  if p.suffix in suffixes and f".{COMPRESSED}." not in p.name)


def checkpoint_name(backend: str) -> str:
    return CHECKPOINT[Backend(str(backend))]


def frozen_name(backend: str) -> str:
    return FROZEN[Backend(str(backend))]


def dp_flag(backend: str) -> str:
    """``dp --tf train`` / ``dp --pt train``."""
    return f"--{Backend(str(backend)).value}"


def has_checkpoint(task_dir: Path, backend: str) -> bool:
    """Whether ``dp train --restart`` can resume in ``task_dir``."""
    task_dir = Path(task_dir)
    if Backend(str(backend)) is Backend.tf:
        return (task_dir / "checkpoint").exists() and any(task_dir.glob("model.ckpt*.index"))
    return (task_dir / CHECKPOINT[Backend.pt]).exists()


# descriptors deepmd-kit can tabulate (`dp compress`); the others (DPA-2's
# repformers, DPA-3) raise NotImplementedError in deepmd-kit 3.2.0
COMPRESSIBLE = {"se_e2_a", "se_a", "se_e2_r", "se_r", "se_e3", "se_at", "se_a_3be", "se_atten",
                "dpa1", "se_atten_v2"}
# descriptors deepmd-kit implements in PyTorch (and JAX) only
PT_ONLY = {"dpa2", "dpa3", "dpa4", "sezm", "se_e3_tebd"}


def descriptor_types(train_input: dict) -> list[str]:
    """The descriptor type(s) of a deepmd-kit input (a hybrid's members)."""
    desc = (train_input or {}).get("model", {}).get("descriptor", {}) or {}
    if desc.get("type") == "hybrid":
        return [str(d.get("type")) for d in desc.get("list", [])]
    return [str(desc.get("type"))] if desc.get("type") else []


def cannot_compress(train_input: dict) -> list[str]:
    """The descriptor types of ``train_input`` that ``dp compress`` cannot tabulate (in
    either backend)."""
    return [t for t in descriptor_types(train_input) if t not in COMPRESSIBLE]


def missing_for_pt() -> list[str]:
    """The requirements of deepmd-kit's own ``torch`` extra (its PyTorch backend: torch,
    e3nn, vesin[torch], ...) that are not installed, read from deepmd-kit's metadata."""
    from importlib import metadata

    from packaging.requirements import Requirement

    out = []
    for text in metadata.requires("deepmd-kit") or []:
        req = Requirement(text)
        if req.marker is None or not req.marker.evaluate({"extra": "torch"}):
            continue
        if req.marker.evaluate({"extra": ""}):
            continue  # a requirement of deepmd-kit itself, not of the extra
        try:
            have = metadata.version(req.name)
        except metadata.PackageNotFoundError:
            out.append(str(req).split(";")[0])
            continue
        if req.specifier and not req.specifier.contains(have.split("+")[0], prereleases=True):
            out.append(f"{str(req).split(';')[0]} (installed: {have})")
    return out


def import_framework(backend: str) -> None:
    """Import the backend's framework; the DeePMD LAMMPS plugin needs it loaded
    first in the process."""
    if Backend(str(backend)) is Backend.pt:
        import torch  # noqa: F401
    else:
        import tensorflow  # noqa: F401


def cpu_only_reason(backend: str) -> str | None:
    """Why the installed build of ``backend`` cannot use GPUs (None: it can, or it
    cannot be told without importing it). Read from the installed distributions, not
    by importing TensorFlow or torch: ``tensorflow-cpu`` without ``tensorflow``, or a
    torch wheel built ``+cpu``."""
    from importlib import metadata

    def version(dist: str) -> str | None:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return None

    if Backend(str(backend)) is Backend.tf:
        if version("tensorflow") is None and version("tensorflow-cpu") is not None:
            return (f"the TensorFlow installed is tensorflow-cpu {version('tensorflow-cpu')}, "
                    "which cannot use GPUs")
        return None
    torch = version("torch")
    if torch is not None and "+cpu" in torch:
        return f"the torch installed is a CPU build ({torch})"
    return None
