"""The configuration reference is generated from the schema and cannot drift from it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from raygen.cli import config_reference as ref


def test_the_committed_reference_is_what_the_schema_generates():
    assert ref.main(["--check"]) == 0, "run: python -m raygen.cli.config_reference --write"


def test_every_key_has_a_line_of_meaning():
    assert ref.missing_docs() == []


def test_every_plugin_has_its_section_and_every_key_its_row():
    text = ref.generate()
    for name in ref.LABELERS:
        assert f"### `label={name}`" in text
    for key in ("select.f_trust_lo", "explore.jobs[].trj_freq", "cluster.labeler.num_cpus",
                "train.final.numb_steps", "props.tolerances", "label.proceed_ratio"):
        assert f"| `{key}` |" in text
    assert "| `label.cutoff` | float | `400.0` | plane-wave cutoff of the density grid (Ry) |" \
        in text


@dataclass
class _Inner:
    x: float = 1.5
    """a length (Å)"""


@dataclass
class _Outer:
    name: str = "???"
    """a name"""
    size: Optional[int] = None
    inner: _Inner = field(default_factory=_Inner)
    items: list[_Inner] = field(default_factory=list)
    """the items"""


def test_rows_read_types_defaults_and_docstrings_and_name_what_is_undocumented():
    rows = {r[0]: r[1:] for r in ref.rows(_Outer, "")}
    assert rows["name"] == ("str", "required", "a name")
    assert rows["size"] == ("int or null", "null", "")  # no docstring: missing_docs names it
    assert rows["inner.x"] == ("float", "1.5", "a length (Å)")
    assert rows["items"] == ("list of _Inner", "[]", "the items")
    assert rows["items[].x"] == ("float", "1.5", "a length (Å)")
