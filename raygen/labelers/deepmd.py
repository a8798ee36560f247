"""A trained Deep Potential as the labeler: distillation (``label=deepmd``).

The teacher — a large model (a fine-tuned DPA-3, a foundation model's branch) that is
accurate but slow in MD — labels the frames the loop selects, in place of DFT:
energies, forces and virials from deepmd-kit's ASE calculator, with the same typed
outcomes and files as every labeler (it is an in-process ASE calculator, see
:mod:`raygen.labelers.ase_calc`). The ensemble the loop trains is the student: a small
se_e2_a (``train=se_e2_a``) that ``dp compress`` makes fast in MD. The frame's chemical
symbols are mapped onto the teacher's own type map; an element the teacher does not
know is refused before the run starts. The model is loaded once per worker process
and reused for every frame that process labels.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from raygen.config.plugins import LabelerName
from raygen.config.schema import LabelConfig
from raygen.labelers.ase_calc import CalculatorLabeler

MODEL_SUFFIXES = (".pb", ".pth", ".pt", ".savedmodel", ".dp")

_LOADED: dict[tuple[str, Optional[str]], object] = {}


@dataclass
class DeepmdLabelConfig(LabelConfig):
    """``label=deepmd``: a trained deepmd-kit model as the reference (distillation)."""

    name: LabelerName = LabelerName["deepmd"]  # type: ignore[valid-type]
    model: str = ""
    """the teacher: a frozen deepmd-kit model (`.pb`, `.pth`) or a PyTorch checkpoint (`.pt`)"""
    head: Optional[str] = None
    """the branch (head) of a multi-task teacher; null: a single-task model"""


def teacher_type_map(model: str, head: Optional[str]) -> list[str]:
    """The teacher's type map, read in a process of its own (the driver imports no
    deep-learning framework for it); ValueError with the last line of deepmd-kit's
    error when it cannot load (not a model; a multi-task model without ``head``)."""
    code = ("import json, sys; from deepmd.infer import DeepPot; "
            "m = DeepPot(sys.argv[1], head=(sys.argv[2] or None)); "
            "print('TYPE_MAP ' + json.dumps(m.get_type_map()))")
    proc = subprocess.run([sys.executable, "-c", code, model, head or ""], capture_output=True,
                          text=True, timeout=600,
                          env={**os.environ, "CUDA_VISIBLE_DEVICES": "",
                               "TF_CPP_MIN_LOG_LEVEL": "3"})
    for line in proc.stdout.splitlines():
        if line.startswith("TYPE_MAP "):
            return json.loads(line[len("TYPE_MAP "):])
    reason = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
    raise ValueError(reason[-1] if reason else f"exit {proc.returncode}")


class DeepmdLabeler(CalculatorLabeler):
    config_class = DeepmdLabelConfig

    def problems(self, type_map: list[str], local: bool = True) -> list[str]:
        model = str(self.cfg.model or "")
        if not model:
            return ["label.model: the teacher model file is not set (label=deepmd "
                    "label.model=/path/to/teacher.pth)"]
        path = Path(model)
        if not path.name.endswith(MODEL_SUFFIXES):
            return [f"label.model: {model} is not a deepmd-kit model file "
                    f"({', '.join(MODEL_SUFFIXES)})"]
        if not local:
            return []
        if not path.exists():
            return [f"label.model: {model} does not exist"]
        try:
            known = teacher_type_map(str(path.resolve()), self.cfg.head)
        except ValueError as err:
            return [f"label.model: {model} does not load as a deepmd-kit model"
                    f"{' with label.head=' + str(self.cfg.head) if self.cfg.head else ''}: {err}"]
        unknown = [t for t in type_map if t not in known]
        if unknown:
            return [f"label.model: the teacher {model} knows {known}, not {unknown} of "
                    f"type_map {list(type_map)}"]
        return []

    def make_calculator(self, **extra):
        key = (str(Path(self.cfg.model).resolve()), self.cfg.head)
        if key not in _LOADED:
            from deepmd.calculator import DP

            _LOADED[key] = DP(key[0], head=self.cfg.head) if self.cfg.head else DP(key[0])
        return _LOADED[key]
