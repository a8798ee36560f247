"""The config as a run records it (``<workdir>/raygen.yaml``): resolved, so it says
exactly what ran, except where a value comes from the environment (``${oc.env:...}``,
directly or through other interpolations): those stay as written, so licences, tokens
and passwords passed that way never land in the run directory."""

from __future__ import annotations

import re
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

_ENV = re.compile(r"\$\{\s*oc\.env\s*:")
_REF = re.compile(r"\$\{\s*([A-Za-z_][\w.\[\]]*)\s*\}")


def _leaves(node, path: str = ""):
    """(dotted path, raw value) of every leaf, interpolations unresolved."""
    if isinstance(node, DictConfig):
        for key in node.keys():
            yield from _leaves(node._get_node(key), f"{path}.{key}" if path else str(key))
    elif isinstance(node, ListConfig):
        for k in range(len(node)):
            yield from _leaves(node._get_node(k), f"{path}[{k}]")
    else:
        yield path, node._value() if hasattr(node, "_value") else node


def from_environment(cfg: DictConfig) -> set[str]:
    """Paths of the values that come from the environment, directly or by referring
    (``${other.key}``) to one that does."""
    raw = {p: v for p, v in _leaves(cfg)}
    secret = {p for p, v in raw.items() if isinstance(v, str) and _ENV.search(v)}
    changed = True
    while changed:  # a reference to an environment value is one too
        changed = False
        for p, v in raw.items():
            if p in secret or not isinstance(v, str):
                continue
            refs = _REF.findall(v)
            if any(r in secret or any(s.startswith(r + ".") or s.startswith(r + "[")
                                      for s in secret) for r in refs):
                secret.add(p)
                changed = True
    return secret


def _set(container: Any, path: str, value: Any) -> None:
    parts = re.findall(r"[^.\[\]]+|\[\d+\]", path)
    node = container
    for part in parts[:-1]:
        node = node[int(part[1:-1])] if part.startswith("[") else node[part]
    last = parts[-1]
    if last.startswith("["):
        node[int(last[1:-1])] = value
    else:
        node[last] = value


def recorded_yaml(cfg: DictConfig) -> str:
    """``cfg`` as YAML, resolved, with the values from the environment left as written."""
    resolved = OmegaConf.to_container(cfg, resolve=True, enum_to_str=True)
    raw = dict(_leaves(cfg))
    for path in from_environment(cfg):
        _set(resolved, path, raw[path])
    return OmegaConf.to_yaml(OmegaConf.create(resolved))
