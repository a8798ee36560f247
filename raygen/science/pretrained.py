"""What a pre-trained deepmd-kit (PyTorch) checkpoint holds, read before training.

A fine-tuning run starts from a ``.pt`` checkpoint (``dp --pt train --finetune``). Its
model parameters (``_extra_state.model_params``, what deepmd-kit itself reads) say
whether it is multi-task and with which branches (heads), each branch's type map and
descriptor. raygen reads them once, before Ray starts, so a missing branch or a type
map deepmd-kit cannot map is an error naming the branches and types, not a failed
training an hour later.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

# descriptors without a type embedding: deepmd-kit cannot change their type map
# (their change_type_map raises NotImplementedError)
FIXED_TYPE_DESCRIPTORS = frozenset({"se_e2_a", "se_a", "se_e2_r", "se_r", "se_e3", "se_at",
                                    "se_a_3be", "se_t"})


def load_model_params(path: str | Path) -> dict[str, Any]:
    """The model parameters stored in a deepmd-kit PyTorch checkpoint (a ``.pt``
    written by ``dp --pt train``); ValueError naming the file when it is not one."""
    import torch

    try:
        state = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - any unreadable file is the same error
        raise ValueError(f"{path}: not a deepmd-kit PyTorch checkpoint "
                         f"({type(err).__name__}: {str(err)[:160]})") from err
    if isinstance(state, dict) and "model" in state:
        state = state["model"]
    try:
        return state["_extra_state"]["model_params"]
    except (KeyError, TypeError) as err:
        raise ValueError(f"{path}: a torch file without deepmd-kit's model parameters "
                         "(_extra_state.model_params): not a dp --pt train checkpoint") from err


@lru_cache(maxsize=8)
def _cached(path: str, mtime: float) -> dict[str, Any]:
    return load_model_params(path)


def model_params(path: str | Path) -> dict[str, Any]:
    """:func:`load_model_params`, read once per file version."""
    p = Path(path)
    return _cached(str(p.resolve()), p.stat().st_mtime)


def branches(params: dict[str, Any]) -> list[str]:
    """The heads of a multi-task model; [] for a single-task one."""
    return list(params.get("model_dict", {}))


def branch_params(params: dict[str, Any], head: str | None) -> dict[str, Any]:
    """One branch's model parameters (the whole model when single-task)."""
    if not branches(params):
        return params
    return params["model_dict"][head]


def descriptor_type(model: dict[str, Any]) -> str:
    desc = model.get("descriptor", {})
    return str(desc.get("type", "")) if isinstance(desc, dict) else ""


@dataclass(frozen=True)
class TypeMapping:
    """The run's types on the pre-trained model's: ``index[i]`` is where type ``i`` of
    the run sits in ``pretrained`` (None: a type the model never saw, its parameters
    start at random, as deepmd-kit does)."""

    pretrained: tuple[str, ...]
    run: tuple[str, ...]
    index: tuple[int | None, ...]

    @property
    def new_types(self) -> list[str]:
        return [t for t, i in zip(self.run, self.index) if i is None]

    @property
    def changed(self) -> bool:
        return self.pretrained != self.run

    def describe(self) -> str:
        kept = [f"{t}->{self.pretrained[i]}#{i}" for t, i in zip(self.run, self.index)
                if i is not None]
        text = f"type map {list(self.run)} onto the pre-trained {list(self.pretrained)}"
        if kept:
            text += f" ({', '.join(kept)})"
        if self.new_types:
            text += f"; new to the model, started at random: {', '.join(self.new_types)}"
        return text


def type_mapping(pretrained: list[str], run: list[str]) -> TypeMapping:
    return TypeMapping(tuple(pretrained), tuple(run),
                       tuple(pretrained.index(t) if t in pretrained else None for t in run))


def finetune_problems(path: str, head: str | None, run_type_map: list[str],
                      key: str = "train.finetune") -> list[str]:
    """What stops ``run_type_map`` from being fine-tuned out of the checkpoint at
    ``path`` with branch ``head`` (deepmd-kit's ``RANDOM``: the first branch's
    descriptor and a new fitting net), each naming the key."""
    if not Path(path).is_file():
        return [f"{key}.model: {path} does not exist"]
    if Path(path).suffix != ".pt":
        return [f"{key}.model: {path} is not a .pt checkpoint; deepmd-kit fine-tunes from the "
                "checkpoint dp --pt train writes (model.ckpt.pt), not from a frozen .pth/.pb"]
    try:
        params = model_params(path)
    except ValueError as err:
        return [f"{key}.model: {err}"]
    heads = branches(params)
    if heads:
        if not head:
            return [f"{key}.head: {path} is a multi-task model; choose its branch: "
                    f"{', '.join(heads)} (or RANDOM: its shared descriptor with a new fitting "
                    "net)"]
        if head != "RANDOM" and head not in heads:
            return [f"{key}.head: {path} has no branch {head!r}; its branches: "
                    f"{', '.join(heads)}"]
        model = branch_params(params, heads[0] if head == "RANDOM" else head)
    else:
        if head and head not in ("RANDOM", "Default"):
            return [f"{key}.head: {path} is a single-task model (no branches), got {head!r}; "
                    "leave it null (or RANDOM: a new fitting net)"]
        model = params
    mapping = type_mapping(list(model.get("type_map", [])), list(run_type_map))
    desc = descriptor_type(model)
    if mapping.changed and desc in FIXED_TYPE_DESCRIPTORS:
        return [f"{key}.model: deepmd-kit cannot move a {desc} model (no type embedding) onto "
                f"another type map: the run's {list(run_type_map)}, the model's "
                f"{list(mapping.pretrained)}; set type_map to the model's, or fine-tune a "
                "model with a type embedding (DPA-1/2/3, se_atten)"]
    return []
