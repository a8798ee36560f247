"""One deep merge for every nested settings mapping (a code's input tree over its
defaults, ``train.final.input`` over ``train.input``)."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any


def plain(node: Any) -> Any:
    """A settings mapping as plain, resolved Python data (a copy; OmegaConf nodes
    converted), ready to merge, hash or write."""
    from omegaconf import OmegaConf

    return OmegaConf.to_container(node, resolve=True) if OmegaConf.is_config(node) \
        else copy.deepcopy(node)


def deep_merge(base: Mapping, override: Mapping) -> dict[str, Any]:
    """A copy of ``base`` with ``override`` merged in: nested mappings key by key,
    everything else replaced (lists too). Neither argument is changed."""
    out = copy.deepcopy(dict(base))
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out
