"""Read YAML specs keeping where each value came from.

Validation messages must point at ``file:line:col``; PyYAML only knows marks on
nodes, so we compose the node graph ourselves and build plain Python values
alongside a map from JSON path to position. Duplicate keys, which PyYAML
silently lets the last one win, are reported instead.
"""

from __future__ import annotations

import math
import sys
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..errors import GlancError, Problem, SpecError

JsonPath = tuple[str | int, ...]

STDIN = Path("<stdin>")  # what a spec read from ``-`` is called in messages and the card
MAX_BYTES = 8 << 20  # a taxonomy of GLAN's size is a few kilobytes; 10k disciplines ~1 MB
MAX_DEPTH = 64  # mappings and lists inside each other; real specs stay under 20
ALIAS_BUDGET = 10_000  # values that aliases may add beyond the file's own ("billion laughs")


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


class _Budget:
    """How many more values construction may visit: the file's own plus a few
    that aliases repeat. A YAML bomb's aliases would expand to billions."""

    def __init__(self, limit: int):
        self.left = limit

    def spend(self, node: yaml.Node, path: Path) -> None:
        self.left -= 1
        if self.left < 0:
            line, col = node.start_mark.line + 1, node.start_mark.column + 1
            raise SpecError(
                [
                    Problem(
                        str(path), line, col, "$",
                        f"aliases expand to more than {ALIAS_BUDGET:,} extra values "
                        "(a YAML bomb?): write the values out or use fewer aliases",
                    )
                ]
            )  # fmt: skip


def _construct(
    node: yaml.Node,
    path: JsonPath,
    doc: Document,
    problems: list[Problem],
    loader: yaml.SafeLoader,
    budget: _Budget,
) -> Any:
    budget.spend(node, doc.path)
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
            key = unicodedata.normalize("NFC", str(key_node.value))
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
            out[key] = _construct(value_node, path + (key,), doc, problems, loader, budget)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [
            _construct(n, path + (i,), doc, problems, loader, budget)
            for i, n in enumerate(node.value)
        ]
    value = loader.construct_object(node, deep=True)
    if isinstance(value, float) and not math.isfinite(value):
        problems.append(doc.problem(path, "must be a finite number (.nan and .inf are not)"))
    elif isinstance(value, str):
        # one text, one form: "Café" typed composed or decomposed is one name,
        # one key, one path (NFC, as the web and most editors write it)
        value = unicodedata.normalize("NFC", value)
    return value


def load_yaml(path: str | Path) -> Document:
    """Parse one YAML file (``-``: standard input; its templates are found from
    the working directory); raise ``SpecError`` for malformed YAML, duplicate
    keys or a document past the size, depth or alias bounds."""
    p = Path(path)
    try:
        if str(path) == "-":
            p = STDIN
            data = sys.stdin.buffer.read(MAX_BYTES + 1)
        else:
            with open(p, "rb") as f:
                data = f.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise GlancError(f"{p}: file not found") from None
    except IsADirectoryError:
        raise GlancError(f"{p}: is a directory, not a spec file") from None
    except OSError as exc:
        raise GlancError(f"{p}: cannot read: {exc.strerror or exc}") from None
    if len(data) > MAX_BYTES:
        raise GlancError(
            f"{p}: larger than {MAX_BYTES >> 20} MB: split the taxonomy into several specs"
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise GlancError(f"{p}: not UTF-8 text (byte {exc.start}): save it as UTF-8") from None
    return parse_yaml(text, p)


# libyaml's parser when PyYAML has it (its wheels do): a 10,000-discipline spec
# parses in a tenth of the pure-Python parser's time, with the same marks
FAST_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _shape(text: str, path: Path) -> int:
    """Check nesting depth on the event stream (PyYAML's composer recurses, and a
    deep document would crash it) and count the file's own values."""
    depth = values = 0
    for event in yaml.parse(text, Loader=FAST_LOADER):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            values += 1
            if depth > MAX_DEPTH:
                line, col = event.start_mark.line + 1, event.start_mark.column + 1
                raise SpecError(
                    [
                        Problem(
                            str(path), line, col, "$",
                            f"nested deeper than {MAX_DEPTH} levels: flatten the document",
                        )
                    ]
                )  # fmt: skip
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
        elif isinstance(event, yaml.ScalarEvent):
            values += 1
    return values


def parse_yaml(text: str, path: Path) -> Document:
    """Parse YAML text (see ``load_yaml``); ``path`` is used in messages only."""
    doc = Document(path=path, data=None)
    try:
        values = _shape(text, path)
        node = yaml.compose(text, Loader=FAST_LOADER)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        what = exc.problem or exc.context or "malformed YAML"
        if "maximum nesting depth" in what:  # libyaml's own bound, past ours
            what = f"nested deeper than {MAX_DEPTH} levels: flatten the document"
            raise SpecError([Problem(str(path), line, col, "$", what)]) from None
        raise SpecError([Problem(str(path), line, col, "$", f"malformed YAML: {what}")]) from None
    except yaml.YAMLError as exc:
        raise SpecError([Problem(str(path), 1, 1, "$", f"malformed YAML: {exc}")]) from None
    if node is None:
        raise SpecError([Problem(str(path), 1, 1, "$", "the file is empty")])
    problems: list[Problem] = []
    try:
        budget = _Budget(2 * values + ALIAS_BUDGET)  # mapping keys are visited as values
        doc.data = _construct(node, (), doc, problems, yaml.SafeLoader(""), budget)
    except yaml.constructor.ConstructorError as exc:
        mark = exc.problem_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problems.append(Problem(str(path), line, col, "$", f"unsupported YAML: {exc.problem}"))
    if problems:
        raise SpecError(problems)
    return doc
