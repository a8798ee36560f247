"""Run the property tests of several calculators at once: every point a Ray task,
every result cached by content.

Each calculator first relaxes its ground state; then every property of every
calculator runs as a generator (see :mod:`raygen.props.base`) whose batches of
points are all in flight together. A point found in the cache is not computed;
a point that fails ends only its own property for that calculator (named in the
result), never the others.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import ray

from raygen.cluster import wait_one
from raygen.props.base import PROPERTIES, Context, Found
from raygen.props.calculators import CalcSpec
from raygen.props.phases import CUBIC, PHASES, ground
from raygen.props.points import Point, PointCache, PointResult, evaluate, point_key
from raygen.props.table import tolerance_problem

log = logging.getLogger("raygen")


def check(cfg, crystal: str) -> None:
    """Raise ValueError naming every problem of the settings, before any calculation."""
    found = problems(cfg, crystal)
    if found:
        raise ValueError("; ".join(found))


def problems(cfg, crystal: str) -> list[str]:
    """Every problem of the property-test settings (``props.*``)."""
    from raygen.props import load_plugins

    load_plugins()
    found = []
    unknown = [p for p in cfg.properties if p not in PROPERTIES]
    if unknown:
        found.append(f"props.properties: unknown {', '.join(unknown)} "
                        f"(known: {', '.join(PROPERTIES)})")
    if crystal not in CUBIC + ("hcp",):
        found.append(f"props.crystal={crystal}: one of {', '.join(CUBIC + ('hcp',))}")
    else:
        for name in cfg.properties:
            if name in PROPERTIES:
                found += PROPERTIES[name]().problems(cfg, crystal)
    bad_phases = [p for p in cfg.phases if p not in PHASES]
    if bad_phases and "eos" not in cfg.properties:
        found.append(f"props.phases: {', '.join(bad_phases)}: not a phase raygen can build")
    for pattern, tol in dict(cfg.tolerances).items():
        bad = tolerance_problem(tol)
        if bad:
            found.append(f"props.tolerances.{pattern}: {bad}")
    if not 0 < cfg.eos_range < 0.5 or cfg.eos_points < 5:
        found.append("props.eos_range/eos_points: need 0 < eos_range < 0.5 and >= 5 points")
    return list(dict.fromkeys(found))


def _evaluate(point: Point, spec: CalcSpec, cache_root: str, key: str) -> PointResult:
    from raygen.actors.threads import set_threads

    set_threads(1)
    result = evaluate(point, spec.build())
    PointCache(Path(cache_root)).put(key, result)  # kept even if the driver dies
    return result


class _Batches:
    """Points in flight: each (calculator, property) waits for its batch."""

    def __init__(self, cache: PointCache, num_cpus: float):
        self.cache = cache
        self.task = ray.remote(_evaluate).options(num_cpus=num_cpus, max_retries=1)
        self.refs: dict[str, Any] = {}  # content key -> ObjectRef
        self.done: dict[str, PointResult] = {}
        self.computed = self.cached = 0

    def submit(self, points: dict[str, Point], spec: CalcSpec) -> dict[str, str]:
        keys = {}
        for name, p in points.items():
            k = point_key(p, spec.calc_id)
            keys[name] = k
            if k in self.done or k in self.refs:
                continue
            hit = self.cache.get(k)
            if hit is not None:
                self.done[k] = hit
                self.cached += 1
            else:
                self.refs[k] = self.task.remote(p, spec, str(self.cache.root), k)
        return keys

    def wait(self) -> None:
        """Collect at least one finished point (failures kept as exceptions)."""
        if not self.refs:
            return
        by_ref = {r: k for k, r in self.refs.items()}
        for r in [wait_one(list(by_ref))]:
            k = by_ref[r]
            del self.refs[k]
            try:
                self.done[k] = ray.get(r)
                self.computed += 1
            except Exception as err:  # noqa: BLE001 - the property reports it
                self.done[k] = err  # type: ignore[assignment]


def _ground_point(cfg, element: str, crystal: str) -> Point:
    return Point(ground(element, crystal, cfg.a),
                 mode="relax_volume" if crystal in CUBIC else "relax_cell", fmax=cfg.fmax)


def run_properties(cfg, element: str, specs: list[CalcSpec], cache_root: Path,
                   ray_init: bool = True) -> dict[str, Any]:
    """Every property of ``cfg`` for every calculator of ``specs``: per calculator,
    per property, what it found (or its error), plus counts and wall time."""
    from raygen.props import load_plugins

    load_plugins()
    crystal = cfg.crystal
    check(cfg, crystal)
    if ray_init and not ray.is_initialized():
        ray.init(include_dashboard=False, log_to_driver=False)
    start = time.time()
    batches = _Batches(PointCache(cache_root), cfg.num_cpus)
    gp = _ground_point(cfg, element, crystal)
    waiting: dict[tuple[str, str], tuple[Any, dict[str, str]]] = {}
    found: dict[str, dict[str, Any]] = {s.name: {} for s in specs}
    ground_keys = {s.name: batches.submit({"ground": gp}, s)["ground"] for s in specs}
    started: set[str] = set()
    by_name = {s.name: s for s in specs}

    def advance(spec: CalcSpec, prop: str, gen, sent) -> None:
        try:
            batch = gen.send(sent) if sent is not None else next(gen)
        except StopIteration as stop:
            value: Found = stop.value
            found[spec.name][prop] = asdict(value)
            return
        except Exception as err:  # noqa: BLE001 - a property's own failure
            found[spec.name][prop] = {"error": f"{type(err).__name__}: {err}"}
            return
        waiting[(spec.name, prop)] = (gen, batches.submit(batch, spec))

    while True:
        for name, key in ground_keys.items():
            if name in started or key not in batches.done:
                continue
            started.add(name)
            res = batches.done[key]
            if isinstance(res, Exception):
                for prop in cfg.properties:
                    found[name][prop] = {"error": f"ground state: {res}"}
                continue
            bulk = res.atoms(gp.atoms.numbers)
            ctx = Context(element=element, crystal=crystal, bulk=bulk,
                          e_atom=res.energy_eV / res.natoms, cfg=cfg)
            found[name]["_ground"] = {"cell": res.cell, "energy_eV_per_atom": ctx.e_atom}
            for prop in cfg.properties:
                advance(by_name[name], prop, PROPERTIES[prop]().run(ctx), None)
        for (name, prop), (gen, keys) in list(waiting.items()):
            if all(k in batches.done for k in keys.values()):
                del waiting[(name, prop)]
                results = {n: batches.done[k] for n, k in keys.items()}
                failed = [f"{n}: {r}" for n, r in results.items() if isinstance(r, Exception)]
                if failed:
                    found[name][prop] = {"error": "; ".join(failed)[:2000]}
                    continue
                advance(by_name[name], prop, gen, results)
        if not waiting and len(started) == len(specs):
            break
        batches.wait()
    return {"calculators": found, "points_computed": batches.computed,
            "points_cached": batches.cached, "wall_s": round(time.time() - start, 1)}
