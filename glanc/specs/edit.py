"""Edit a taxonomy spec file in place, the way a person would: comments, key
order, quoting and indentation kept, only the new nodes added.

ruamel.yaml is the maintained round-trip YAML library for Python (PyYAML, which
glanc reads specs with, drops comments and reorders nothing back). An edit is
written to a temporary file beside the spec, checked to load as a valid spec,
and renamed over it in one step: a spec is never half-written, and an edit that
would not validate leaves the file as it was.
"""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import GlancError, SpecError


@dataclass(frozen=True)
class NewNode:
    """A node to add, pending review, with where it came from."""

    name: str
    description: str
    suggested: dict[str, Any]  # model, sample, key (and a note, if any)
    children: tuple[NewNode, ...] = ()


def _yaml(indent: int = 2, sequence: int = 4, offset: int = 2):
    from ruamel.yaml import YAML

    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 4096  # never fold a long line the person wrote on one
    yaml.indent(mapping=indent, sequence=sequence, offset=offset)
    return yaml


def _mapping(node: NewNode):
    from ruamel.yaml.comments import CommentedMap

    out = CommentedMap()
    out["name"] = node.name
    if node.description:
        out["description"] = node.description
    out["review"] = "pending"
    provenance = CommentedMap(node.suggested)
    provenance.fa.set_flow_style()
    out["suggested"] = provenance
    if node.children:
        out["children"] = [_mapping(c) for c in node.children]
    return out


# (mapping, sequence, offset) indentations tried, the most common first
_LAYOUTS = [(2, 4, 2), (2, 2, 0), (4, 4, 2), (4, 6, 4), (4, 4, 0), (2, 4, 0), (4, 2, 0)]


def load_round_trip(path: Path) -> tuple[Any, Callable[[Any], str]]:
    """The spec's data as ruamel's round-trip objects, and how to write it back
    in the file's own indentation: the first layout that writes the file back
    unchanged, byte for byte (else the most common one)."""
    text = path.read_text(encoding="utf-8")
    chosen = None
    for layout in _LAYOUTS:
        yaml = _yaml(*layout)
        data = yaml.load(text)
        out = io.StringIO()
        yaml.dump(data, out)
        if out.getvalue() == text:
            chosen = yaml, data
            break
    yaml, data = chosen or (_yaml(*_LAYOUTS[0]), _yaml(*_LAYOUTS[0]).load(text))

    def dump(value: Any) -> str:
        out = io.StringIO()
        yaml.dump(value, out)
        return out.getvalue()

    return data, dump


def add_children(path: Path, at: tuple[str, ...], nodes: list[NewNode]) -> None:
    """Append ``nodes`` to the children of the taxonomy node at ``at`` (names from
    the top), in the spec file itself."""
    data, dump = load_round_trip(path)
    siblings = data["taxonomy"]
    for name in at:
        node = next(n for n in siblings if n["name"] == name)
        if "children" not in node:
            node["children"] = []
        siblings = node["children"]
    siblings.extend(_mapping(n) for n in nodes)
    replace_checked(path, dump(data))


def new_spec(path: Path, header: str, top: dict[str, Any], nodes: list[NewNode]) -> None:
    """Write a new taxonomy spec: ``header`` as its opening comment, the keys of
    ``top``, then ``nodes`` as its taxonomy."""
    from ruamel.yaml.comments import CommentedMap

    data = CommentedMap(top)
    data["taxonomy"] = [_mapping(n) for n in nodes]
    text = io.StringIO()
    _yaml().dump(data, text)
    lines = "".join(f"# {line}".rstrip() + "\n" for line in header.splitlines())
    replace_checked(path, lines + text.getvalue(), new=True)


def replace_checked(path: Path, text: str, new: bool = False) -> None:
    """Put ``text`` at ``path`` in one step, after checking it loads as a valid
    taxonomy spec; on any failure the file is as it was."""
    from .resolve import load_taxonomy

    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".yaml", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        try:
            load_taxonomy(tmp)
        except SpecError as exc:
            first = exc.problems[0].message if exc.problems else str(exc)
            msg = f"{path}: the edit would not validate ({first}); left as it was"
            raise GlancError(msg) from None
        if new and path.exists():
            raise GlancError(f"{path} exists: choose another -o, or delete it")
        if not new and path.exists():
            os.chmod(tmp, path.stat().st_mode & 0o777)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def set_review(path: Path, at: tuple[str, ...], state: str, subtree: bool = False) -> list[str]:
    """Record a reviewer's decision in the spec file: the node at ``at`` (names from
    the top) gets ``review: STATE``; with ``subtree``, so does every node under it
    that is pending (a node dropped before stays dropped). Returns the paths
    changed. The file keeps its comments and layout, and is replaced whole."""
    data, dump = load_round_trip(path)
    siblings, node = data["taxonomy"], None
    for depth, name in enumerate(at):
        node = next((n for n in siblings if n["name"] == name), None)
        if node is None:
            where = "/".join(at[: depth + 1])
            raise GlancError(f"{path}: no taxonomy node {where!r}: give a path such as "
                             "'Field/Sub-field' (names from the top, joined by /)")  # fmt: skip
        siblings = node.get("children") or []
    if node is None:
        raise GlancError("give the path of a taxonomy node, such as 'Natural Sciences/Physics'")
    changed: list[str] = []

    def mark(item: Any, where: tuple[str, ...], top: bool) -> None:
        if top or item.get("review") == "pending":
            if item.get("review", "keep") != state:
                item["review"] = state
                changed.append("/".join(where))
        if subtree:
            for child in item.get("children") or []:
                mark(child, where + (child["name"],), False)

    mark(node, at, True)
    if changed:
        replace_checked(path, dump(data))
    return changed
