"""Read YAML specs keeping where each value came from.

Validation messages must point at ``file:line:col``; PyYAML only knows marks on
nodes, so we compose the node graph ourselves and build plain Python values
alongside a map from JSON path to position. Duplicate keys, which PyYAML
silently lets the last one win, are reported instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import GlancError, Problem, SpecError

JsonPath = tuple[str | int, ...]


@dataclass
class Document:
    """A parsed spec: its data and where each path sits in the file."""

    path: Path
    data: Any
    marks: dict[JsonPath, tuple[int, int]] = field(default_factory=dict)

    def where(self, path: JsonPath) -> tuple[int, int]:
        """Line and column (1-based) of ``path``, or its nearest located ancestor."""
        p = tuple(path)
        while p not in self.marks and p:
            p = p[:-1]
        return self.marks.get(p, (1, 1))

    def problem(self, path: JsonPath, message: str) -> Problem:
        line, col = self.where(path)
        return Problem(str(self.path), line, col, format_path(path), message)


def format_path(path: JsonPath) -> str:
    """Render a path the way jq and dbt users read it: ``$.taxonomy[0].name``."""
    out = "$"
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def _construct(
    node: yaml.Node, path: JsonPath, doc: Document, problems: list[Problem], loader: yaml.SafeLoader
) -> Any:
    doc.marks[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                problems.append(doc.problem(path, "YAML merge keys (<<) are not supported"))
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                problems.append(doc.problem(path, "mapping keys must be plain strings"))
                continue
            key = str(key_node.value)
            if key in out:
                line = key_node.start_mark.line + 1
                col = key_node.start_mark.column + 1
                problems.append(
                    Problem(
                        str(doc.path),
                        line,
                        col,
                        format_path(path + (key,)),
                        f"duplicate key {key!r}: remove one of them",
                    )
                )
                continue
            out[key] = _construct(value_node, path + (key,), doc, problems, loader)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_construct(n, path + (i,), doc, problems, loader) for i, n in enumerate(node.value)]
    return loader.construct_object(node, deep=True)


def load_yaml(path: str | Path) -> Document:
    """Parse one YAML file; raise ``SpecError`` for malformed YAML or duplicate keys."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise GlancError(f"{p}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise GlancError(f"{p}: cannot read: {exc}") from None
    return parse_yaml(text, p)


def parse_yaml(text: str, path: Path) -> Document:
    """Parse YAML text (see ``load_yaml``); ``path`` is used in messages only."""
    doc = Document(path=path, data=None)
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        what = exc.problem or exc.context or "malformed YAML"
        raise SpecError([Problem(str(path), line, col, "$", f"malformed YAML: {what}")]) from None
    except yaml.YAMLError as exc:
        raise SpecError([Problem(str(path), 1, 1, "$", f"malformed YAML: {exc}")]) from None
    if node is None:
        raise SpecError([Problem(str(path), 1, 1, "$", "the file is empty")])
    problems: list[Problem] = []
    try:
        doc.data = _construct(node, (), doc, problems, yaml.SafeLoader(""))
    except yaml.constructor.ConstructorError as exc:
        mark = exc.problem_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problems.append(Problem(str(path), line, col, "$", f"unsupported YAML: {exc.problem}"))
    if problems:
        raise SpecError(problems)
    return doc
