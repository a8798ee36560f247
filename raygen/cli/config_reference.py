"""The configuration reference, generated from the schema: every key, its type, its
default and one line of meaning (with its unit), read from the dataclasses and the
docstring under each field (the attribute-docstring convention).

``python -m raygen.cli.config_reference`` prints it; ``--write`` writes
``docs/configuration.md``; ``--check`` exits 1 when the committed file and the schema
disagree (the tests run it). Plug-ins (labelers, exploration engines) get a section
each from their own config dataclass, so a new plug-in is documented by its code.
"""

from __future__ import annotations

import ast
import dataclasses
import enum
import inspect
import json
import sys
import textwrap
import typing
from pathlib import Path
from typing import Any

from raygen.config.plugins import ENGINES, LABELERS, load
from raygen.config.schema import ExploreConfig, LabelConfig, RaygenConfig

DOC = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"

HEADER = """\
# Configuration reference

Generated from raygen's config dataclasses (`python -m raygen.cli.config_reference --write`);
do not edit by hand: the tests fail when this page and the schema disagree. Every key
can be set in an experiment file (`conf/exp/*.yaml`, or your own with `--config-dir`) or
on the command line (`key=value`; `++key=value` adds a key inside a free-form mapping
such as `train.input`). Unknown keys, wrong types and values outside a closed vocabulary
are refused before Ray starts, naming the key. `null` means "not set" (the meaning
says what happens then).
"""


def field_docs(cls: type) -> dict[str, str]:
    """``{field: docstring}`` of one dataclass (its own fields, not inherited ones)."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    except (OSError, TypeError):
        return {}
    body = tree.body[0].body  # type: ignore[attr-defined]
    docs = {}
    for prev, node in zip(body, body[1:]):
        if (isinstance(prev, ast.AnnAssign) and isinstance(prev.target, ast.Name)
                and isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
                and isinstance(node.value.value, str)):
            docs[prev.target.id] = " ".join(node.value.value.split())
    return docs


def all_field_docs(cls: type) -> dict[str, str]:
    """Field docstrings of ``cls`` and its bases (a subclass's own text wins)."""
    out: dict[str, str] = {}
    for base in reversed(cls.__mro__):
        if dataclasses.is_dataclass(base):
            out.update(field_docs(base))
    return out


def _unwrap(tp: Any) -> tuple[Any, bool]:
    """(the type inside Optional[...], whether None is allowed)."""
    args = typing.get_args(tp)
    if typing.get_origin(tp) is typing.Union and type(None) in args:
        rest = [a for a in args if a is not type(None)]
        return (rest[0] if len(rest) == 1 else typing.Union[tuple(rest)]), True
    return tp, False


def type_name(tp: Any) -> str:
    inner, nullable = _unwrap(tp)
    origin = typing.get_origin(inner)
    if isinstance(inner, type) and issubclass(inner, enum.Enum):
        name = " \\| ".join(str(m.value) for m in inner)
    elif origin in (list, tuple):
        (arg, *_) = typing.get_args(inner) or (Any,)
        name = f"list of {type_name(arg)}"
    elif origin is dict:
        k, v = typing.get_args(inner)
        name = f"mapping {type_name(k)} → {type_name(v)}"
    elif inner is Any:
        name = "any"
    elif dataclasses.is_dataclass(inner):
        name = "section"
    else:
        name = getattr(inner, "__name__", str(inner))
    return f"{name} or null" if nullable else name


def _value(v: Any) -> str:
    if isinstance(v, enum.Enum):
        return str(v.value)
    if dataclasses.is_dataclass(v):
        return "—"
    return json.dumps(v, default=str)


def _default(f: dataclasses.Field) -> str:
    if f.default is not dataclasses.MISSING:
        v = f.default
    elif f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
        v = f.default_factory()  # type: ignore[misc]
    else:
        return "required"
    return "required" if v == "???" else _value(v)


def rows(cls: type, prefix: str, skip: frozenset[str] = frozenset()) -> list[tuple[str, ...]]:
    """(key, type, default, meaning) of every key under ``prefix``, nested sections
    expanded (``train.final.numb_steps``), lists of sections as ``key[].field``."""
    hints = typing.get_type_hints(cls)
    docs = all_field_docs(cls)
    out = []
    for f in dataclasses.fields(cls):
        if f.name in skip:
            continue
        tp = hints[f.name]
        key = f"{prefix}{f.name}"
        inner, _ = _unwrap(tp)
        if dataclasses.is_dataclass(inner):
            out.extend(rows(inner, key + "."))
            continue
        if typing.get_origin(inner) is list and dataclasses.is_dataclass(typing.get_args(inner)[0]):
            out.append((key, f"list of {typing.get_args(inner)[0].__name__}", _default(f),
                        docs.get(f.name, "")))
            out.extend(rows(typing.get_args(inner)[0], key + "[]."))
            continue
        out.append((key, type_name(tp), _default(f), docs.get(f.name, "")))
    return out


def _intro(cls: type) -> str:
    """The first paragraph of a dataclass's docstring, as Markdown."""
    return (inspect.getdoc(cls) or "").split("\n\n")[0].replace("\n", " ").replace("``", "`")


def _table(rs: list[tuple[str, ...]]) -> str:
    lines = ["| key | type | default | meaning |", "|---|---|---|---|"]
    for key, tp, default, doc in rs:
        cell = default.replace("|", "\\|")
        lines.append(f"| `{key}` | {tp} | `{cell}` | {doc.replace('|', '/')} |")
    return "\n".join(lines) + "\n"


def _plugin_sections(group: str, registry: dict[str, str], base: type, what: str) -> list[str]:
    out = []
    for name in registry:
        cls = load(registry, name, what).config_class
        own = frozenset(f.name for f in dataclasses.fields(base))
        rs = rows(cls, f"{group}.", skip=own)
        intro = _intro(cls)
        out.append(f"### `{group}={name}`\n\n{intro}\n\n"
                   + (_table(rs) if rs else "No keys of its own.\n"))
    return out


def missing_docs() -> list[str]:
    """Keys whose field has no docstring (the tests require one for every key)."""
    rs = rows(RaygenConfig, "")
    for registry, base, group, what in ((LABELERS, LabelConfig, "label", "labeler"),
                                        (ENGINES, ExploreConfig, "explore",
                                         "exploration engine")):
        for name in registry:
            cls = load(registry, name, what).config_class
            rs += rows(cls, f"{group}={name}:", skip=frozenset(f.name for f in
                                                                dataclasses.fields(base)))
    return [r[0] for r in rs if not r[3]]


def generate() -> str:
    top = rows(RaygenConfig, "")
    sections: dict[str, list[tuple[str, ...]]] = {}
    for r in top:
        head = r[0].split(".")[0].split("[")[0]
        sections.setdefault(head if "." in r[0] or "[" in r[0] else "", []).append(r)
    parts = [HEADER, "## Run\n\n" + _table(sections.pop(""))]
    for head, rs in sections.items():
        cls = typing.get_type_hints(RaygenConfig)[head]
        cls = typing.get_args(cls)[0] if typing.get_origin(cls) is list else cls
        intro = _intro(cls)
        parts.append(f"## `{head}`\n\n{intro}\n\n" + _table(rs))
        if head == "label":
            parts += _plugin_sections("label", LABELERS, LabelConfig, "labeler")
        if head == "explore":
            parts += _plugin_sections("explore", ENGINES, ExploreConfig, "exploration engine")
    return "\n".join(parts)


def main(argv: list[str]) -> int:
    text = generate()
    if "--check" in argv:
        if not DOC.exists() or DOC.read_text() != text:
            print(f"{DOC} is not what the schema generates: run "
                  "`python -m raygen.cli.config_reference --write`", file=sys.stderr)
            return 1
        return 0
    if "--write" in argv:
        DOC.write_text(text)
        print(f"wrote {DOC}")
        return 0
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
