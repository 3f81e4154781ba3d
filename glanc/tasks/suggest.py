"""``glanc suggest``: GLAN's first step, a model drafting taxonomy nodes, put
through review like code.

A model names child nodes of a taxonomy node (fields of all knowledge, a
field's sub-fields, a sub-field's disciplines) in several samples; the names are
merged, de-duplicated against each other and the spec, and written into the
spec file with ``review: pending`` and their provenance. A build leaves pending
nodes out until a person sets ``keep`` (or deletes the key) in a pull request.

Each sample is a node of the template's ``children`` stage, keyed by content
and cached in the store like every node: a rerun calls no model and proposes
the same names.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..errors import GlancError
from ..execute.preflight import preflight
from ..execute.scheduler import record_of
from ..keys import normalise_name
from ..lm.call import Caller
from ..options import MAX_SUGGEST_SAMPLES, Workspace
from ..recipe.graph import Graph, interleaved
from ..recipe.node import Node
from ..specs.edit import NewNode, add_children, new_spec
from ..specs.load import load_yaml
from ..specs.resolve import load_taxonomy, load_template, name_problem, settings_at
from ..specs.types import Discipline, Settings, Taxonomy, Template
from ..store import Store

STAGE = "children"
EVERYTHING = "all of human knowledge and capabilities"  # GLAN's root
MAX_SAMPLES = MAX_SUGGEST_SAMPLES
FIELDS, SUBFIELDS, DISCIPLINES = "fields", "sub-fields", "disciplines"
SEPARATORS = (": ", " - ", " \u2013 ", " \u2014 ")


@dataclass
class Suggestion:
    """What a suggest run proposed and did."""

    under: str
    kind: str
    added: list[NewNode] = field(default_factory=list)
    already: list[str] = field(default_factory=list)  # suggested before, still in the spec
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (name, why)
    calls: int = 0
    cached: int = 0

    def as_json(self) -> dict[str, Any]:
        return {
            "under": self.under,
            "kind": self.kind,
            "added": [{"name": n.name, "description": n.description, **n.suggested}
                      for n in self.added],
            "already_suggested": self.already,
            "skipped": [{"name": n, "why": why} for n, why in self.skipped],
            "lm_calls": self.calls,
            "cached": self.cached,
        }  # fmt: skip


@dataclass(frozen=True)
class _Named:
    name: str
    description: str
    sample: int
    node: Node


def _template(taxonomy: Taxonomy) -> Template:
    """The spec's template, with glanc's own ``children`` stage where it has none."""
    if taxonomy.template.has(STAGE):
        return taxonomy.template
    default = load_template("default", Path("."))
    stages = (*taxonomy.template.stages, (STAGE, default.stage(STAGE)))
    return replace(taxonomy.template, stages=stages)


def _split(item: str) -> tuple[str, str]:
    """``Name: description`` (or ``Name - description``) into its two parts."""
    for sep in SEPARATORS:
        if sep in item:
            name, description = item.split(sep, 1)
            return name.strip(" *\"'"), description.strip().rstrip(".")
    return item.strip(" *\"'"), ""


def _usable(name: str, path: tuple[str, ...]) -> str | None:
    """Why a proposed name cannot be a child's of the node at ``path``, or None."""
    if normalise_name(name) in {normalise_name(p) for p in path}:
        return "the name of the node itself, or of one above it"
    if "/" in name:
        return "holds '/', which separates taxonomy paths"
    if len(name.split()) > 8:
        return "longer than 8 words: a sentence, not a name"
    return name_problem(name)


class _Asker:
    """Runs ``children`` calls through the store: cached by key like every node."""

    def __init__(self, taxonomy: Taxonomy, model: str | None, store: Store):
        self.taxonomy = replace(taxonomy, template=_template(taxonomy))
        self.graph = Graph(self.taxonomy, model)
        self.caller = Caller(self.taxonomy.template)
        self.store = store
        self.calls = self.cached = 0
        self._checked = False

    def ask(
        self, path: tuple[str, ...], settings: Settings, kind: str, n: int, samples: int
    ) -> list[_Named]:
        """Names from ``samples`` calls, taken in turn (each sample's first, then each
        one's second, ...), de-duplicated by normalised name."""
        parent = path[-1] if path else EVERYTHING
        where = Discipline(path or (EVERYTHING,), settings)
        provided = {
            "parent": parent,
            "taxonomy_path": " / ".join(path),
            "kind": kind,
            "num_children": n,
            "language": settings.language,
        }
        nodes = [self.graph.node(STAGE, where, provided, k, {}, (None, k)) for k in range(samples)]
        if not self._checked:
            preflight(self.graph)
            self._checked = True
        found = self.store.get_many([node.key for node in nodes])
        replies: list[list[_Named]] = []
        errors = []
        for k, node in enumerate(nodes):
            record = found.get(node.key)
            if record is not None and record.status == "ok":
                self.cached += 1
            else:
                self.calls += 1
                record = record_of(node, self.caller(node))
                self.store.put(record)
            if record.status != "ok":
                errors.append(record.error or "no reply")
                continue
            self.store.use(node.key, node.slot)
            items = [_split(item["name"]) for item in record.output.get("children") or []]
            replies.append([_Named(a, b, k, node) for a, b in items if a])
        if not any(replies):
            why = " ".join(errors[0].split())[:300] if errors else "empty lists"
            raise GlancError(
                f"the model named no {kind} of {parent!r} in {samples} samples "
                f"({why}); nothing written: try again with --samples, or another --model"
            )
        out, seen = [], set()
        for _, named in interleaved(replies):
            if (key := normalise_name(named.name)) not in seen:
                seen.add(key)
                out.append(named)
        return out


def _provenance(named: _Named, note: str | None = None) -> dict[str, Any]:
    out = {"model": named.node.model.label, "sample": named.sample, "key": named.node.key}
    if note:
        out["note"] = note
    return out


def _tree_names(nodes: list[dict]) -> dict[str, str]:
    """Normalised name -> path of every node of the tree (the first, where repeated)."""
    out: dict[str, str] = {}
    for path, node in walk(nodes):
        out.setdefault(normalise_name(node["name"]), path)
    return out


def _find(nodes: list[dict], under: str) -> tuple[tuple[str, ...], dict]:
    """The node at ``under`` ('Field/Sub-field', by normalised name), or a one-line error
    that lists the nodes that can take children."""
    want = [normalise_name(part) for part in under.split("/") if part.strip()]
    path: tuple[str, ...] = ()
    node: dict | None = None
    level = nodes
    for part in want:
        node = next((n for n in level if normalise_name(n["name"]) == part), None)
        if node is None:
            break
        path += (node["name"],)
        level = node.get("children") or []
    if node is None or len(path) != len(want):
        inner = [p for p, n in walk(nodes) if "children" in n]
        raise GlancError(
            f"no taxonomy node {under!r}; nodes that take children: {', '.join(inner)}"
        )
    return path, node


def walk(nodes: list[dict], parents: tuple[str, ...] = ()) -> Iterator[tuple[str, dict]]:
    """(path, node) for every node of a raw taxonomy tree, parents first."""
    for node in nodes:
        path = parents + (node["name"],)
        yield "/".join(path), node
        yield from walk(node.get("children") or [], path)


def suggest(
    spec: Path,
    under: str,
    n: int,
    *,
    model: str | None = None,
    samples: int = 3,
    workspace: Workspace | None = None,
) -> Suggestion:
    """Propose ``n`` child nodes of the node at ``under`` and write them into ``spec``,
    pending review. Siblings with a name already there are skipped; a name used
    elsewhere in the tree is added with a note."""
    workspace = workspace or Workspace()
    taxonomy = load_taxonomy(spec)  # a spec that does not validate is reported as is
    data = load_yaml(spec).data
    path, node = _find(data["taxonomy"], under)
    if "children" not in node:
        parent = "/".join(path[:-1])
        hint = f"suggest under {parent!r}" if parent else "add a field by hand"
        raise GlancError(
            f"{'/'.join(path)!r} is a discipline (a leaf): the build writes its subjects; "
            f"to add disciplines beside it, {hint}"
        )
    children = node["children"]
    kind = DISCIPLINES if all("children" not in c for c in children) else SUBFIELDS
    result = Suggestion("/".join(path), kind)
    siblings = {normalise_name(c["name"]): c for c in children}
    elsewhere = _tree_names(data["taxonomy"])
    with Store(workspace.store, on_wait=workspace.wait) as store:
        asker = _Asker(taxonomy, model, store)
        named = asker.ask(path, settings_at(data, path), kind, n, samples)
        result.calls, result.cached = asker.calls, asker.cached
    for item in named:
        if len(result.added) + len(result.already) == n:  # a rerun proposes the same
            break
        norm = normalise_name(item.name)
        if norm in siblings:
            mine = (siblings[norm].get("suggested") or {}).get("key") == item.node.key
            if mine:
                result.already.append(siblings[norm]["name"])
            else:
                result.skipped.append((item.name, f"already a child of {result.under}"))
            continue
        if why := _usable(item.name, path):
            result.skipped.append((item.name, why))
            continue
        note = None
        if norm in elsewhere:
            note = f"the same name as {elsewhere[norm]}: keeping both fails validation"
        result.added.append(NewNode(item.name, item.description, _provenance(item, note)))
        siblings[norm] = {"name": item.name}
    if result.added:
        add_children(spec, path, result.added)
    elif not result.already:
        raise GlancError(
            f"no new {kind} for {result.under}: every name the model gave is already "
            "in the spec or unusable; nothing written (try a larger -n or --samples)"
        )
    return result


def draft(
    name: str,
    out: Path,
    counts: tuple[int, int, int],
    *,
    model: str | None = None,
    samples: int = 2,
    workspace: Workspace | None = None,
) -> Suggestion:
    """A whole taxonomy from scratch, GLAN style: fields of all human knowledge,
    each field's sub-fields, each sub-field's disciplines; every node pending."""
    workspace = workspace or Workspace()
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name):
        raise GlancError(f"--new {name!r}: a build name is letters, digits, '.', '_' and '-'")
    if out.exists() or out.is_symlink():
        raise GlancError(f"{out} exists: choose another -o, or delete it")
    if not out.parent.is_dir():
        raise GlancError(f"{out}: folder {out.parent} does not exist: create it, or choose "
                         "another -o")  # fmt: skip
    top = {
        "glanc": 1,
        "name": name,
        "description": f"Drafted by glanc suggest: {counts[0]} fields, {counts[1]} sub-fields "
        f"each, {counts[2]} disciplines each.",
        "settings": {"models": {"generator": "embedded", "answerer": "embedded"}},
    }
    if model:
        top["settings"]["models"] = {"generator": model, "answerer": model}
    # a spec to resolve models and settings against: the draft's own settings
    scaffold = {**top, "taxonomy": [{"name": "draft"}]}
    taxonomy = _scaffold_taxonomy(out, scaffold)
    settings = settings_at(scaffold, ())
    result = Suggestion("", FIELDS)
    with Store(workspace.store, on_wait=workspace.wait) as store:
        asker = _Asker(taxonomy, None, store)

        def level(path: tuple[str, ...], kind: str, n: int, depth: int) -> list[NewNode]:
            nodes, seen = [], set()
            for item in asker.ask(path, settings, kind, n, samples):
                norm = normalise_name(item.name)
                if len(nodes) == n or norm in seen:
                    continue
                if why := _usable(item.name, path):
                    result.skipped.append((item.name, why))
                    continue
                seen.add(norm)
                below: tuple[NewNode, ...] = ()
                if depth < 2:
                    nxt = (SUBFIELDS, DISCIPLINES)[depth]
                    below = tuple(level(path + (item.name,), nxt, counts[depth + 1], depth + 1))
                    if not below:
                        continue
                nodes.append(NewNode(item.name, item.description, _provenance(item), below))
            return nodes

        fields = level((), FIELDS, counts[0], 0)
        result.calls, result.cached = asker.calls, asker.cached
    _unique_disciplines(fields, result)
    header = (
        f"Drafted by `glanc suggest --new {name}`: every node is pending review.\n"
        "Set `review: keep` or `review: drop` on each (dropping a node drops its subtree),\n"
        "or delete the key to keep it; `glanc validate --strict` fails until all are reviewed."
    )
    new_spec(out, header, top, fields)
    result.added = fields
    return result


def _scaffold_taxonomy(out: Path, data: dict[str, Any]) -> Taxonomy:
    """The draft's settings resolved as a spec (models, template), before any node."""
    import yaml

    from ..specs.load import parse_yaml

    doc = parse_yaml(yaml.safe_dump(data, sort_keys=False), out)
    return load_taxonomy(out, doc=doc)


def _unique_disciplines(fields: list[NewNode], result: Suggestion) -> None:
    """Discipline names must be unique across a spec: a repeat is dropped (with its
    reason) so that the draft validates once every node is kept."""
    seen: set[str] = set()
    for f_index, f in enumerate(fields):
        subs = []
        for s in f.children:
            kept = []
            for d in s.children:
                norm = normalise_name(d.name)
                if norm in seen:
                    result.skipped.append((d.name, "a discipline of that name is already drafted"))
                    continue
                seen.add(norm)
                kept.append(d)
            if kept:
                subs.append(replace(s, children=tuple(kept)))
        fields[f_index] = replace(f, children=tuple(subs))
    fields[:] = [f for f in fields if f.children]
