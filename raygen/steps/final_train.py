"""Production training of the final ensemble (``train.final``), after the loop.

The paper trains the models it publishes far longer than the models that steer
exploration. With ``train.final.numb_steps`` set, every member trains again on all
labels of the run in ``<workdir>/final/NNN/`` (from the last iteration's
checkpoint, or from new weights), and these models, not the last iteration's, go
to ``models/``. ``models/final_train.json`` says which settings made them, so a
finished run started again with other settings trains them again, and nothing
else; a kill during it resumes each member from its own checkpoint.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import time
from pathlib import Path
from typing import Optional

from raygen.actors.trainer import Start
from raygen.atomic import atomic_write_json
from raygen.config.backend import checkpoint_name, has_checkpoint
from raygen.config.merge import deep_merge, plain
from raygen.errors import RunError
from raygen.science.dataset import count_frames
from raygen.science.training_input import make_training_input
from raygen.state.context import RunContext
from raygen.state.workdir import FINAL_TRAIN_RECORD
from raygen.steps import label_sets
from raygen.steps.train import (
    MemberTraining,
    finetune_start,
    pretrained_model,
    train_members,
    training_systems,
)

log = logging.getLogger("raygen")



def settings(ctx: RunContext) -> Optional[dict]:
    """What identifies the production training asked for (None: off)."""
    f = ctx.cfg.train.final
    if f.numb_steps is None:
        return None
    return {"numb_steps": int(f.numb_steps), "from_scratch": bool(f.from_scratch),
            "start_lr": f.start_lr, "input": plain(f.input)}


def done_settings(ctx: RunContext) -> Optional[dict]:
    path = ctx.rundir.final_train_record
    return json.loads(path.read_text())["settings"] if path.exists() else None


def pending(ctx: RunContext) -> bool:
    """Asked for, and ``models/`` was not made by exactly these settings."""
    want = settings(ctx)
    return want is not None and done_settings(ctx) != want


def final_dir(ctx: RunContext, want: dict) -> Path:
    """One directory per settings, so other settings never resume these."""
    digest = hashlib.sha256(json.dumps(want, sort_keys=True).encode()).hexdigest()
    return ctx.rundir.final_train_dir(digest[:10])


def member_input(ctx: RunContext, want: dict, systems: list[Path], final_iter: int,
                 member: int) -> dict:
    cfg = ctx.cfg.train
    inp = make_training_input(cfg, ctx.type_map, systems, final_iter + 1, member, False,
                              model=pretrained_model(ctx))
    inp = deep_merge(inp, want["input"])
    inp["training"]["numb_steps"] = want["numb_steps"]
    if want["start_lr"] is not None:
        inp.setdefault("learning_rate", {})["start_lr"] = want["start_lr"]
    return inp


def run(ctx: RunContext, final_iter: int) -> list[Path]:
    """Train the production ensemble on the data of ``final_iter``'s training (all
    labels); the frozen models' paths."""
    want = settings(ctx)
    assert want is not None
    root = final_dir(ctx, want)
    systems = training_systems(ctx, final_iter)
    if label_sets.repair(ctx, systems):
        systems = training_systems(ctx, final_iter)
    graphs = [root / ctx.rundir.final_graph(m, ctx.backend).name
              for m in range(ctx.cfg.train.numb_models)]
    todo = []
    for m, graph in enumerate(graphs):
        if graph.exists():
            continue
        task = root / f"{m:03d}"
        task.mkdir(parents=True, exist_ok=True)
        prev = ctx.rundir.train_task(final_iter, m)
        # from the last iteration's checkpoint; from_scratch: new weights, or the
        # pre-trained model again when fine-tuning (train.finetune)
        start = finetune_start(ctx) if want["from_scratch"] \
            or not has_checkpoint(prev, ctx.backend) \
            else Start(init_model=str(prev / checkpoint_name(ctx.backend)))
        inp = member_input(ctx, want, systems, final_iter, m)
        todo.append(MemberTraining(m, task, inp, graph, start))
    log.info("final training: %d models, %d steps each, on %d systems, %d frames (%s)",
             len(graphs), want["numb_steps"], len(systems), count_frames(systems), root)
    t0 = time.perf_counter()
    train_members(ctx, todo, "final")
    atomic_write_json(root / FINAL_TRAIN_RECORD, {"settings": want, "data_iteration": final_iter,
                                      "seconds": round(time.perf_counter() - t0, 1)})
    return graphs


def publish(ctx: RunContext, final_iter: int) -> bool:
    """Fill ``models/`` with the final ensemble: the production training's models
    (``train.final``, trained here if needed) or ``final_iter``'s; each copied
    atomically. True when they are the production training's."""
    rd, models = ctx.rundir, range(ctx.cfg.train.numb_models)
    production = settings(ctx) is not None
    srcs = run(ctx, final_iter) if production else \
        [rd.graph(final_iter, m, ctx.backend) for m in models]
    rd.models.mkdir(exist_ok=True)
    manifest = {}
    for m, src in zip(models, srcs):
        if src.stat().st_size == 0:
            raise RunError(f"{src}: the model to publish is empty; remove it and run the "
                           "same command again to train it again")
        tmp = rd.models / f".{src.name}.tmp"
        shutil.copyfile(src, tmp)
        dest = rd.final_graph(m, ctx.backend)
        manifest[dest.name] = {**fingerprint(tmp), "from": str(src.relative_to(rd.root))}
        tmp.replace(dest)
    atomic_write_json(rd.models_manifest, manifest)
    record_in_models(ctx, final_iter, srcs[0].parent if production else None)
    return production


def fingerprint(path: Path) -> dict:
    """Size and SHA-256 of a file, as the manifest of ``models/`` records them."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return {"bytes": path.stat().st_size, "sha256": digest.hexdigest()}


def damaged(ctx: RunContext) -> list[str]:
    """What is wrong with the published models (``models/manifest.json`` records each
    one's size and hash when written): missing, changed, or not vouched for at all."""
    rd, out = ctx.rundir, []
    if not rd.models_manifest.exists():
        return [f"{rd.models_manifest}: missing (models published without one, or it was "
                "removed)"]
    try:
        manifest = json.loads(rd.models_manifest.read_text())
    except (OSError, ValueError) as err:
        return [f"{rd.models_manifest}: unreadable ({err})"]
    for m in range(ctx.cfg.train.numb_models):
        path = rd.final_graph(m, ctx.backend)
        want = manifest.get(path.name)
        if not path.exists():
            out.append(f"{path}: missing")
        elif want is None:
            out.append(f"{path}: not in {rd.models_manifest.name}")
        elif path.stat().st_size != want["bytes"] or fingerprint(path)["sha256"] != want[
                "sha256"]:
            out.append(f"{path}: {path.stat().st_size} bytes, {want['bytes']} when written "
                       "(truncated or changed)")
    return out


def record_in_models(ctx: RunContext, final_iter: int, src_dir: Optional[Path]) -> None:
    """``models/final_train.json``: which training made the models there."""
    path = ctx.rundir.final_train_record
    if src_dir is None:
        path.unlink(missing_ok=True)
        return
    info = json.loads((src_dir / FINAL_TRAIN_RECORD).read_text())
    atomic_write_json(path, {**info, "from": str(src_dir.relative_to(ctx.rundir.root))})
