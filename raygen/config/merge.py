"""One deep merge for every nested settings mapping (a code's input tree over its
defaults, ``train.final.input`` over ``train.input``)."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any


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
