"""Property tests of one ensemble: find its models, check the settings, run every
calculator, write ``props.json`` (versioned, units in the names, no absolute
paths), ``props.md`` and the PNGs."""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any, Optional

from omegaconf import OmegaConf

from raygen.config.backend import frozen_models
from raygen.props.calculators import model_specs, reference_spec
from raygen.props.runner import check, run_properties
from raygen.props.table import FORMAT, compare, errors, markdown
from raygen.state.workdir import PROPS_RECORD, PROPS_SUMMARY, RunDir

log = logging.getLogger("raygen")


def find_models(path: Path) -> list[Path]:
    """The frozen models of a run directory (``models/``) or of a models directory."""
    path = Path(path)
    if not path.exists():
        raise ValueError(f"{path}: no such run or models directory")
    for d in (path / "models", path):
        found = frozen_models(d)
        if found:
            return found
    raise ValueError(f"{path}: no frozen models (graph.*.pb / graph.*.pth) in it or in "
                     f"{path / 'models'}")


def _plain(cfg) -> Any:
    if is_dataclass(cfg):
        return asdict(cfg)
    return OmegaConf.to_container(cfg, resolve=True) if OmegaConf.is_config(cfg) else cfg


def run_props(models: list[Path], props_cfg, label_cfg, element: str, out: Path,
              ray_init: bool = True, model_calcs=None) -> dict[str, Any]:
    """Run the tests of ``props_cfg`` for every model and the reference labeler,
    write the outputs into ``out``; the JSON record. ``model_calcs``: calculator
    specs standing in for the models (a test runs the reference as a "model")."""
    check(props_cfg, props_cfg.crystal)
    ref = reference_spec(label_cfg)  # an unusable reference fails here, before any work
    specs = [ref] + (list(model_calcs) if model_calcs is not None else model_specs(models))
    out.mkdir(parents=True, exist_ok=True)
    cache = Path(props_cfg.cache_dir) if props_cfg.cache_dir else out / "cache"
    log.info("property tests (%s) of %d models against label=%s", ", ".join(props_cfg.properties),
             len(models), label_cfg.name)
    res = run_properties(props_cfg, element, specs, cache, ray_init=ray_init)
    found = res["calculators"]
    order = {name: k for k, name in enumerate(props_cfg.properties)}
    rows = sorted(compare(found, dict(props_cfg.tolerances)),
                  key=lambda r: order.get(r["property"].split(".")[0], len(order)))
    settings = _plain(props_cfg)
    settings.pop("cache_dir", None)
    record = {
        "format": FORMAT, "element": element, "crystal": props_cfg.crystal,
        "reference": {"label": label_cfg.name},
        "models": [p.name for p in models] if model_calcs is None
        else [s.name for s in model_calcs],
        "model_ids": [s.calc_id for s in specs[1:]],  # content hashes of the models
        "settings": settings, "table": rows, "errors": errors(found),
        "calculators": found, "points_computed": res["points_computed"],
        "points_cached": res["points_cached"], "wall_s": res["wall_s"],
    }
    from raygen.atomic import atomic_write_json, atomic_write_text
    from raygen.props.plots import all_plots

    record["figures"] = all_plots(found, rows, list(props_cfg.phases), out)
    atomic_write_json(out / PROPS_RECORD, record)
    atomic_write_text(out / PROPS_SUMMARY, summary_markdown(record))
    return record


def summary_markdown(record: dict[str, Any]) -> str:
    n_pass = sum(1 for r in record["table"] if r.get("pass") is True)
    n_judged = sum(1 for r in record["table"] if r.get("pass") is not None)
    lines = [f"# Property tests: {record['element']} ({record['crystal']}), "
             f"{len(record['models'])} models vs label={record['reference']['label']}", "",
             f"{n_pass} of {n_judged} judged values within tolerance; "
             f"{record['points_computed']} points computed, {record['points_cached']} from "
             f"the cache, {record['wall_s']} s.", "", markdown(record["table"])]
    notes = [f"{c}: {n}" for c, props in record["calculators"].items()
             for p in props.values() if isinstance(p, dict) for n in p.get("notes", [])]
    if record["errors"] or notes:
        lines += ["", "Notes:", ""] + [f"- {x}" for x in record["errors"] + notes]
    for fig in record.get("figures", []):
        lines += ["", f"![{fig}]({fig})"]
    return "\n".join(lines) + "\n"


def props_for_run(run: Path, overrides: list[str]) -> tuple[Any, Any, list[str]]:
    """The settings of ``python -m raygen.props RUN overrides``: the run's own
    ``raygen.yaml`` (its labeler, type_map, props section) with the overrides on top,
    composed and type-checked by Hydra as raygen's own config is."""
    from hydra import compose, initialize_config_module
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.override_parser.overrides_parser import OverridesParser

    from raygen.config.plugins import register_launcher
    from raygen.config.schema import register_configs

    register_configs()
    register_launcher()
    GlobalHydra.instance().clear()
    with initialize_config_module("raygen.conf", version_base=None):
        composed = compose("config", overrides=overrides)
    saved = Path(run) / "raygen.yaml"
    base = OmegaConf.load(saved) if saved.exists() else None
    keys = [o.key_or_group for o in OverridesParser.create().parse_overrides(overrides)]
    touched = lambda prefix: any(k == prefix or k.startswith(prefix + ".") for k in keys)  # noqa: E731
    label = composed.label if base is None or touched("label") else base.label
    type_map = list(composed.type_map if base is None or touched("type_map") else base.type_map)
    props = composed.props
    if base is not None and "props" in base:
        props = OmegaConf.merge(composed.props, base.props)
        for o in OverridesParser.create().parse_overrides(overrides):
            if o.key_or_group.startswith("props."):
                OmegaConf.update(props, o.key_or_group[len("props."):], o.value(), merge=False)
    return props, label, type_map


def element_of(props_cfg, type_map: list[str]) -> str:
    if props_cfg.element:
        return str(props_cfg.element)
    if len(type_map) != 1:
        raise ValueError(f"type_map {type_map}: property tests are for one element; "
                         "set props.element")
    return str(type_map[0])


def default_out(run: Path) -> Path:
    """A run directory's ``props/``; for a models directory, ``props/`` beside it."""
    rd = RunDir(Path(run))
    return rd.props if rd.models.exists() else RunDir(Path(run).parent).props


def main_args(argv: list[str]) -> tuple[Path, Optional[Path], list[str]]:
    if not argv or argv[0].startswith("-") and argv[0] not in ("--out",):
        raise SystemExit("usage: python -m raygen.props RUN_OR_MODELS_DIR [--out DIR] "
                         "[props.properties=[eos,elastic] label=emt ...]")
    path, rest, out = Path(argv[0]), argv[1:], None
    if "--out" in rest:
        k = rest.index("--out")
        out = Path(rest[k + 1])
        rest = rest[:k] + rest[k + 2:]
    return path, out, rest


def dump(record: dict[str, Any]) -> str:
    return json.dumps(record, indent=1)
