"""Checks of a composed config that need more than types; run before Ray starts.

The driver: the schema (every key one raygen reads, however it was added), then one
call per config group — each group's dataclass owns its checks (``problems(node, cfg,
key)``, overridden by a plug-in's own config class: a labeler's command and
template, an engine's keys), the labeler's check of its files, the property tests'
settings — then the few rules that span groups. Every problem is reported at once,
each naming the key (and file) and what is wrong, so nothing expensive starts on a
config that cannot finish.
"""

from __future__ import annotations

import dataclasses

from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from raygen.config.schema import (
    RaygenConfig,
    SimplifyConfig,
    SystemConfig,
    explore_config_class,
    label_config_class,
)


class ConfigError(ValueError):
    """A config that cannot run; ``problems`` lists every ``key: what is wrong``."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid configuration:\n" + "\n".join(f"  - {p}" for p in problems))


def _own(node, cfg, key: str) -> list[str]:
    """The checks of the dataclass that owns ``node``: for ``label`` and ``explore``
    the plug-in's own config class (which extends its base's checks)."""
    owner = {"label": lambda: label_config_class(cfg.label.name),
             "explore": lambda: explore_config_class(cfg.explore.engine)}.get(
        key, lambda: OmegaConf.get_type(node))()
    return owner.problems(node, cfg, key)


def validate(cfg, simplify: bool = False) -> None:
    """Raise :class:`ConfigError` listing every problem of ``cfg``: for the loop, or
    (``simplify``) for ``python -m raygen.simplify``, which explores nothing and labels
    only when its data set has no labels."""
    problems = _schema_problems(cfg)
    if problems:
        raise ConfigError(problems)
    problems += RaygenConfig.problems(cfg)
    if simplify:
        groups = ("train", "cluster") + (() if cfg.simplify.labeled else ("label",))
        problems += SimplifyConfig.problems(cfg.simplify, cfg)
    else:
        groups = ("init", "train", "explore", "select", "label", "cluster")
        problems += RaygenConfig.systems_problems(cfg)
        for i, s in enumerate(cfg.systems):
            problems += _own(s, cfg, f"systems[{i}]")
    for group in groups:
        problems += _own(cfg[group], cfg, group)
    if not (simplify and cfg.simplify.labeled):
        problems += _label_problems(cfg, simplify)
    problems += _gpu_backend_problems(cfg)
    if not simplify:
        problems += _props_problems(cfg)
    if problems:  # a value that several jobs or systems share is reported once
        raise ConfigError(list(dict.fromkeys(problems)))


def _schema_problems(cfg) -> list[str]:
    """Every key is one raygen reads, however it was added (``+key=value`` adds keys
    that Hydra itself would refuse without the ``+``)."""
    try:
        schema = OmegaConf.structured(RaygenConfig)
        schema.label = OmegaConf.structured(label_config_class(cfg.label.name))
        schema.explore = OmegaConf.structured(explore_config_class(cfg.explore.engine))
        merged = OmegaConf.merge(schema, cfg)
    except (OmegaConfBaseException, ValueError) as err:
        return [f"{getattr(err, 'full_key', '') or 'config'}: {str(err).splitlines()[0]}"]
    return [f"{key}: unknown key (not a raygen setting; check its spelling)"
            for key in _unknown_keys(merged, "")]


def _unknown_keys(node, prefix: str):
    """Keys of ``node`` that its dataclass does not declare, recursively."""
    if node is None or (OmegaConf.is_config(node) and node._is_none()):
        return
    if OmegaConf.is_list(node):
        for k, item in enumerate(node):
            yield from _unknown_keys(item, f"{prefix}[{k}]")
        return
    if not OmegaConf.is_dict(node):
        return
    typ = OmegaConf.get_type(node)
    if not dataclasses.is_dataclass(typ):
        return  # a free-form dict (train.input: deepmd-kit checks its own keys)
    known = {f.name for f in dataclasses.fields(typ)}
    for key in node.keys():
        path = f"{prefix}.{key}" if prefix else str(key)
        if key not in known:
            yield path
        else:
            yield from _unknown_keys(node._get_node(key), path)


def _label_problems(cfg, simplify: bool = False) -> list[str]:
    """The labeler's own files against ``type_map``; and, for a code that runs as a
    program (no in-process calculator), what the loop then cannot do with it (simplify
    only labels)."""
    from raygen.labelers import make_labeler

    labeler = make_labeler(cfg.label)
    out = labeler.problems(list(cfg.type_map), local=cfg.cluster.address is None)
    if out or simplify or labeler.reference_calculator() is not None:
        return out
    if not cfg.init.data and cfg.init.md_steps > 0:
        out.append(f"init.md_steps: labeler '{cfg.label.name}' runs as a program, so raygen "
                   "cannot run MD with it; set init.md_steps=0 (the scaled and perturbed "
                   "frames are labelled) or give init.data")
    relaxed = [f"systems[{i}]" for i, s in enumerate(cfg.systems) if SystemConfig.relaxes(s)]
    if relaxed:  # one line for one cause, however many systems
        out.append(f"{', '.join(relaxed)}.relax: labeler '{cfg.label.name}' runs as a "
                   "program, so raygen cannot relax with it; set relax: false on "
                   f"{'each of them' if len(relaxed) > 1 else 'it'} and give the lattice "
                   "constant of the level of theory")
    return out


def _gpu_backend_problems(cfg) -> list[str]:
    """GPUs asked for by the workers that run deepmd-kit, and a backend build that cannot
    use them: the run would train and run MD on CPUs while holding the GPUs."""
    from raygen.config.backend import cpu_only_reason

    kinds = [k for k in ("trainer", "explorer", "evaluator")
             if float(getattr(cfg.cluster, k).num_gpus) > 0]
    if not kinds or not cfg.cluster.check_gpu_backend:
        return []
    why = cpu_only_reason(cfg.train.backend)
    if why is None:
        return []
    fix = ("install `tensorflow[and-cuda]` (the same version) on the GPU nodes" if
           cfg.train.backend == "tf" else "install torch's CUDA build (`pip install "
           "torch==2.11.0`, the default wheel)")
    return [f"{', '.join(f'cluster.{k}.num_gpus' for k in kinds)}: GPUs asked for, but "
            f"train.backend={cfg.train.backend} and {why}: training and MD would run on CPUs "
            f"while holding the GPUs; {fix}, or set cluster.check_gpu_backend=false if the "
            "workers' environment differs from this one"]


def _props_problems(cfg) -> list[str]:
    """The property tests at the end of a run (props.enabled): their settings, one
    element, and a reference that can relax structures in process."""
    if not cfg.props.enabled:
        return []
    from raygen.labelers import make_labeler
    from raygen.props.runner import problems

    out = problems(cfg.props, cfg.props.crystal)
    if not cfg.props.element and len(cfg.type_map) != 1:
        out.append(f"props.element: type_map {list(cfg.type_map)} has several elements; name "
                   "the one the property tests are for")
    if make_labeler(cfg.label).reference_calculator() is None:
        out.append(f"props.enabled: label={cfg.label.name} runs as a program; property tests "
                   "relax structures, which needs an in-process calculator (label=emt, "
                   "label=ase)")
    return out
