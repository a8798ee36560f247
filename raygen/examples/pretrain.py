"""A small multi-task "foundation" model to fine-tune from, pre-trained without Cu.

Users fine-tune published pre-trained models (DPA-3.x, multi-branch checkpoints); a
test or a laptop cannot download one. This example makes its own the same way:
EMT-labelled bulk data of other metals EMT knows (Ag, Au, Ni, Pd, Pt, Al; no Cu),
one branch (head) per group of elements, a shared DPA-3 descriptor (the
``train=dpa3`` settings) and a fitting net per branch, trained with deepmd-kit's
multi-task PyTorch training (``dp --pt train`` on a ``model_dict`` input)::

    python -m raygen.examples.pretrain pretrained --steps 2000
    python -m raygen +exp=cu_smoke train=dpa3 train.finetune.model=pretrained/pretrained.pt \\
        train.finetune.head=noble

writes ``pretrained/pretrained.pt`` (the checkpoint ``train.finetune.model`` takes),
its data under ``pretrained/data/`` and the training under ``pretrained/train/``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
from ase.build import bulk
from ase.calculators.emt import EMT
from omegaconf import OmegaConf

from raygen.config.schema import InitConfig
from raygen.science.dataset import init_md_frames, labelled_copy, write_deepmd_npy
from raygen.science.structures import perturb

# EMT's fcc lattice constants (Å), near its own minima
LATTICE = {"Ag": 4.09, "Au": 4.08, "Ni": 3.52, "Pd": 3.89, "Pt": 3.92, "Al": 4.05}
# the branches: elements that share a fitting net
HEADS = {"noble": ["Ag", "Au"], "group10": ["Ni", "Pd", "Pt"], "Al": ["Al"]}


def element_frames(element: str, rng: np.random.Generator, n_scales: int = 5,
                   md_steps: int = 10) -> list:
    """EMT-labelled fcc and bcc cells of ``element``: perturbed over a range of volumes,
    and a short hot Langevin MD (32 / 16 atoms)."""
    a = LATTICE[element]
    frames = []
    for scale in np.linspace(0.95, 1.05, n_scales):
        for cell in (bulk(element, "fcc", a=a * scale, cubic=True).repeat((2, 2, 2)),
                     bulk(element, "bcc", a=a * scale / 2 ** (1 / 3) * 0.98, cubic=True)
                     .repeat((2, 2, 2))):
            atoms = perturb(cell, rng, 0.08, 0.02)
            atoms.calc = EMT()
            frames.append(labelled_copy(atoms))
    start = perturb(bulk(element, "fcc", a=a, cubic=True).repeat((2, 2, 2)), rng, 0.05, 0.01)
    frames += init_md_frames(start, EMT(), InitConfig(md_steps=md_steps, md_temperature=900,
                                                      md_stride=2),
                             seed=int(rng.integers(1 << 30)))
    return frames


def alloy_frames(elements: list[str], rng: np.random.Generator, count: int = 6) -> list:
    """Random fcc solid solutions of ``elements`` (Vegard's lattice constant)."""
    frames = []
    for _ in range(count):
        cell = bulk(elements[0], "fcc", a=np.mean([LATTICE[e] for e in elements]),
                    cubic=True).repeat((2, 2, 2))
        cell.set_chemical_symbols(list(rng.choice(elements, size=len(cell))))
        atoms = perturb(cell, rng, 0.08, 0.02)
        atoms.calc = EMT()
        frames.append(labelled_copy(atoms))
    return frames


def write_data(out: Path, heads: dict[str, list[str]], type_map: list[str],
               seed: int = 0) -> dict[str, list[Path]]:
    """Each head's deepmd/npy systems under ``out/<head>/``."""
    rng = np.random.default_rng(seed)
    systems: dict[str, list[Path]] = {}
    for head, elements in heads.items():
        frames = [f for e in elements for f in element_frames(e, rng)]
        if len(elements) > 1:
            frames += alloy_frames(elements, rng)
        write_deepmd_npy(frames, type_map, out / head)
        systems[head] = sorted(p.parent for p in (out / head).glob("*/type.raw"))
    return systems


def dpa3_sections() -> dict:
    """``train=dpa3``'s descriptor, fitting net, learning rate and loss."""
    from importlib.resources import files

    path = files("raygen.conf") / "train" / "dpa3.yaml"
    return OmegaConf.to_container(OmegaConf.load(path).input, resolve=True)


def multitask_input(systems: dict[str, list[Path]], type_map: list[str], steps: int,
                    seed: int = 0) -> dict:
    """deepmd-kit's multi-task input: the descriptor shared by every branch, a
    fitting net and a loss per branch, each branch's data drawn in proportion."""
    base = dpa3_sections()
    desc = {**base["model"]["descriptor"], "seed": seed}
    model_dict = {head: {"type_map": "type_map_all", "descriptor": "shared_descriptor",
                         "fitting_net": {**base["model"]["fitting_net"], "seed": seed + 1 + i}}
                  for i, head in enumerate(systems)}
    total = sum(len(v) for v in systems.values())
    disp = max(1, min(100, steps // 10))
    return {
        "model": {"shared_dict": {"type_map_all": list(type_map), "shared_descriptor": desc},
                  "model_dict": model_dict},
        "learning_rate": {**base["learning_rate"], "decay_steps": max(1, steps // 20)},
        "loss_dict": {head: dict(base["loss"]) for head in systems},
        "training": {
            "model_prob": {head: len(v) / total for head, v in systems.items()},
            "data_dict": {head: {"training_data": {"systems": [str(p) for p in v],
                                                   "batch_size": "auto"}}
                          for head, v in systems.items()},
            "numb_steps": int(steps), "seed": seed + 100, "disp_freq": disp,
            "save_freq": max(disp, steps), "disp_file": "lcurve.out"},
    }


def pretrain(out: Path, steps: int = 2000, heads: dict[str, list[str]] | None = None,
             seed: int = 0) -> Path:
    """Write the data, train the multi-task model, return ``out/pretrained.pt``."""
    from raygen.actors.trainer import dp_command

    heads = heads or HEADS
    type_map = [e for els in heads.values() for e in els]
    systems = write_data(out / "data", heads, type_map, seed)
    work = out / "train"
    work.mkdir(parents=True, exist_ok=True)
    (work / "input.json").write_text(json.dumps(multitask_input(systems, type_map, steps, seed),
                                                indent=2))
    with open(work / "train.log", "w") as log:
        code = subprocess.run([*dp_command(), "--pt", "train", "input.json"], cwd=work,
                              stdout=log, stderr=subprocess.STDOUT).returncode
    ckpt = work / "model.ckpt.pt"
    if code != 0 or not ckpt.exists():
        raise RuntimeError(f"multi-task pre-training failed (exit {code}); see {work}/train.log")
    dst = out / "pretrained.pt"
    shutil.copyfile(ckpt.resolve(), dst)
    return dst


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=Path, help="folder for pretrained.pt, its data and training")
    ap.add_argument("--steps", type=int, default=2000, help="training steps")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    path = pretrain(args.out, args.steps, seed=args.seed)
    print(f"{path}: branches {', '.join(HEADS)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
