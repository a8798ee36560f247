"""Who computes a point: one model of the ensemble, or the reference.

A :class:`CalcSpec` is small and picklable (it travels to Ray tasks); the ASE
calculator it names is built once per worker process and kept (a DeePMD model is
loaded once, not once per point). Its ``calc_id`` is what the cache keys on: a
model's file content hash, the reference labeler's config.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

_BUILT: dict[str, Any] = {}


@dataclass(frozen=True)
class CalcSpec:
    """``kind`` "model" (``model`` a frozen DeePMD-kit graph) or "reference"
    (``label`` a labeler config as a plain dict)."""

    name: str
    kind: str
    calc_id: str
    model: Optional[str] = None
    label: Optional[str] = None  # JSON of the labeler config

    def build(self):
        if self.calc_id not in _BUILT:
            if self.kind == "model":
                from deepmd.calculator import DP

                _BUILT[self.calc_id] = DP(model=self.model)
            else:
                from omegaconf import OmegaConf

                from raygen.labelers import make_labeler

                cfg = OmegaConf.create(json.loads(self.label or "{}"))
                _BUILT[self.calc_id] = make_labeler(cfg).reference_calculator()
        return _BUILT[self.calc_id]


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def model_specs(models: list[Path]) -> list[CalcSpec]:
    return [CalcSpec(name=f"model.{k:03d}", kind="model", calc_id=f"dp:{file_sha256(p)}",
                     model=str(p)) for k, p in enumerate(models)]


def reference_spec(label_cfg) -> CalcSpec:
    """The reference labeler as a calculator spec; an error naming the key when that
    labeler cannot relax structures in process (codes run as programs)."""
    from omegaconf import OmegaConf

    from raygen.labelers import make_labeler

    plain = OmegaConf.to_container(label_cfg, resolve=True) \
        if OmegaConf.is_config(label_cfg) else dict(label_cfg)
    if make_labeler(OmegaConf.create(plain)).reference_calculator() is None:
        raise ValueError(
            f"label={plain.get('name')}: property tests relax structures, which needs an "
            "in-process ASE calculator; this labeler runs its code as a program. Use "
            "label=emt, or label=ase with the code's ASE calculator "
            "(e.g. label.calculator=gpaw:GPAW '+label.parameters={...}')")
    # the cache key: the level of theory, not how failures are handled
    theory = json.dumps({k: v for k, v in plain.items()
                         if k not in ("timeout", "max_retries", "max_failed_ratio",
                                      "proceed_ratio", "fallback")}, sort_keys=True)
    return CalcSpec(name="reference", kind="reference",
                    calc_id="ref:" + hashlib.sha256(theory.encode()).hexdigest(),
                    label=json.dumps(plain, sort_keys=True))
