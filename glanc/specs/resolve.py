"""Turn a validated taxonomy document into a frozen ``Taxonomy``.

Inheritance happens here and only here: each node's ``settings`` are merged
over its parent's (``models`` and ``decoding`` key by key, everything else
replaced), and every discipline carries its fully resolved settings.
"""

from __future__ import annotations

import os
import unicodedata
from pathlib import Path
from typing import Any

from .. import trust
from ..errors import GlancError, Problem, SpecError
from ..keys import digest, normalise_name
from . import models, resources, shards
from .contract import OPTIONAL_STAGES, STAGES
from .load import Document, JsonPath, load_yaml
from .schema import schema_problems, template_problems
from .types import (
    CHECKS,
    STAGE_CHECKS,
    Benchmark,
    Discipline,
    ExecutionSpec,
    FieldSpec,
    ModelRef,
    QualitySpec,
    Reviewed,
    Settings,
    StageTemplate,
    Subject,
    Taxonomy,
    Template,
)

# a name becomes a folder or file name (builds/<name>/, shards to come): within
# every file system's 255-byte limit, with room for a suffix
MAX_NAME_CHARS = 100
MAX_NAME_BYTES = 200


def name_problem(name: str) -> str | None:
    """Why ``name`` cannot name a taxonomy node, subject, level or language, or
    None: it must have a letter or digit and no control, format or bidi
    character (NUL, a newline, U+202E would reach prompts, paths and the card)."""
    bad = [c for c in name if unicodedata.category(c) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp")]
    if bad:
        return (
            f"holds the invisible or control character U+{ord(bad[0]):04X}: use printable text only"
        )
    if not normalise_name(name):
        return "needs a letter or digit (it is blank or punctuation only)"
    if len(name) > MAX_NAME_CHARS or len(name.encode("utf-8")) > MAX_NAME_BYTES:
        return (
            f"is longer than {MAX_NAME_CHARS} characters ({MAX_NAME_BYTES} bytes in UTF-8): "
            "shorten it (names become folder and file names, which file systems cap at 255 bytes)"
        )
    return None


def _hashable(value: Any) -> Any:
    """A spec value made hashable: mappings become sorted pairs, at any depth
    (``batch: {price: {...}}``), so a ``ModelRef`` can key a dict."""
    if isinstance(value, dict):
        return tuple(sorted((k, _hashable(v)) for k, v in value.items()))
    if isinstance(value, list):
        return tuple(_hashable(v) for v in value)
    return value


def _model_ref(value: Any) -> ModelRef:
    if isinstance(value, str):
        return ModelRef(value)
    options = tuple(sorted((k, _hashable(v)) for k, v in value.items() if k != "id"))
    return ModelRef(value["id"], options)


def _merge(parent: dict[str, Any], child: dict[str, Any]) -> dict[str, Any]:
    out = dict(parent)
    for key, value in child.items():
        if key == "models":
            out["models"] = {**parent.get("models", {}), **value}
        elif key == "decoding":
            merged = {s: dict(v) for s, v in parent.get("decoding", {}).items()}
            for stage, params in value.items():
                merged[stage] = {**merged.get(stage, {}), **params}
            out["decoding"] = merged
        else:
            out[key] = value
    return out


def _settings(raw: dict[str, Any]) -> Settings:
    values: dict[str, Any] = {k: v for k, v in raw.items() if k not in ("models", "decoding")}
    if "levels" in values:
        values["levels"] = tuple(values["levels"])
    models_ = tuple(sorted((role, _model_ref(v)) for role, v in raw.get("models", {}).items()))
    decoding = tuple(
        sorted((stage, tuple(sorted(p.items()))) for stage, p in raw.get("decoding", {}).items())
    )
    return Settings(models=models_, decoding=decoding, **values)


def load_template(ref: str, base_dir: Path) -> Template:
    """Load a built-in template (``default``, ``json``) or a template file (relative to
    ``base_dir``); raise ``SpecError``."""
    builtin = ref in resources.BUILTIN_TEMPLATES
    path = resources.builtin_template(ref) if builtin else (base_dir / ref)
    if not builtin and (why := trust.spec_file_problem(path, base_dir, "template")):
        raise GlancError(why)
    doc = load_yaml(path)
    problems = template_problems(doc)
    if problems:
        raise SpecError(problems)
    stages = []
    for stage in (*STAGES, *OPTIONAL_STAGES):
        if stage not in doc.data["stages"]:
            continue
        body = doc.data["stages"][stage]
        stages.append(
            (
                stage,
                StageTemplate(
                    stage=stage,
                    role=body["role"],
                    instructions=body["instructions"].strip(),
                    inputs=tuple(FieldSpec(n, s) for n, s in body["inputs"].items()),
                    outputs=tuple(FieldSpec(n, s) for n, s in body["outputs"].items()),
                    decoding=tuple(
                        sorted((k, _frozen(v)) for k, v in (body.get("decoding") or {}).items())
                    ),
                    format=body.get("format", "json"),
                    prompt=body.get("prompt", "").strip(),
                    example=_example(body.get("example")),
                ),
            )
        )
    return Template(name=doc.data["name"], path=path, stages=tuple(stages))


def _frozen(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def _example(raw: dict[str, Any] | None) -> tuple | None:
    if raw is None:
        return None
    inputs = tuple(sorted((k, _frozen(v)) for k, v in raw["inputs"].items()))
    return inputs, raw["output"].strip()


def _left_out(node: dict, keep_pending: bool) -> bool:
    """A node under review that a build leaves out, with its subtree."""
    state = node.get("review", "keep")
    return state == "drop" or (state == "pending" and not keep_pending)


def _leaves(node: dict) -> int:
    return sum(_leaves(c) for c in node["children"]) if "children" in node else 1


class _Resolver:
    def __init__(self, doc: Document, template: Template, keep_pending: bool = False):
        self.doc = doc
        self.keep_pending = keep_pending
        self.reviewed: list[Reviewed] = []
        self.template = template
        self.base_dir = doc.path.parent
        self.problems: list[Problem] = []
        self.disciplines: list[Discipline] = []
        self.seen: dict[str, JsonPath] = {}
        self.settings_seen: dict[Settings, Settings] = {}
        self.missing_roles: dict[str, list[JsonPath]] = {}

    def check_models(self, raw: dict[str, Any], where: JsonPath) -> None:
        for role, value in (raw.get("models") or {}).items():
            ref = _model_ref(value)
            if ref.id.endswith(".gguf"):
                path = self.base_dir / os.path.expanduser(ref.id)
                if why := trust.spec_file_problem(path, self.base_dir, "model file"):
                    self.problems.append(self.doc.problem(where + ("models", role), why))
                    continue
            try:
                models.routed(models.describe(ref, self.base_dir), None)
            except models.ModelSpecError as exc:
                self.problems.append(self.doc.problem(where + ("models", role), str(exc)))

    def check_names(self, value: Any, where: JsonPath) -> None:
        """Every name a prompt, a path or the card will show: printable text."""
        if isinstance(value, str):
            if why := name_problem(value):
                self.problems.append(self.doc.problem(where, why))
        elif isinstance(value, list):
            for i, item in enumerate(value):
                self.check_names(item, where + (i,))
        elif isinstance(value, dict):
            for key in ("name", "level", "subtopics", "language", "levels", "subjects"):
                if key in value:
                    self.check_names(value[key], where + (key,))

    def walk(self, nodes: list[dict], parents: tuple[str, ...], inherited: dict, where: JsonPath):
        names = [str(n.get("name", "")) for n in nodes]
        for first, second in shards.collisions(names):  # one folder or file for two nodes
            line, _ = self.doc.where(where + (first,))
            self.problems.append(self.doc.problem(where + (second, "name"), (
                f"{names[second]!r} and {names[first]!r} (line {line}) would share the build "
                f"path {shards.slug(names[second])!r}: rename one")))  # fmt: skip
        for i, node in enumerate(nodes):
            here = where + (i,)
            self.check_names(node, here)
            self.check_names(node.get("settings") or {}, here + ("settings",))
            own = node.get("settings") or {}
            self.check_models(own, here + ("settings",))
            merged = _merge(inherited, own)
            path = parents + (node["name"],)
            if _left_out(node, self.keep_pending):
                line, _ = self.doc.where(here)
                self.reviewed.append(Reviewed(path, node["review"], line, _leaves(node)))
                self.nested_reviews(node, path, here)
                continue
            if "children" in node:
                self.walk(node["children"], path, merged, here + ("children",))
            else:
                self.add_discipline(node, path, merged, here)

    def nested_reviews(self, node: dict, path: tuple[str, ...], where: JsonPath) -> None:
        """The nodes under review inside a node the build leaves out: listed too, so
        that ``validate --strict`` and ``plan`` show every one at once."""
        for i, child in enumerate(node.get("children") or []):
            here = where + ("children", i)
            if child.get("review", "keep") in ("pending", "drop"):
                line, _ = self.doc.where(here)
                self.reviewed.append(Reviewed(path + (child["name"],), child["review"], line,
                                              _leaves(child), nested=True))  # fmt: skip
            self.nested_reviews(child, path + (child["name"],), here)

    def add_discipline(self, node: dict, path: tuple[str, ...], merged: dict, where: JsonPath):
        norm = normalise_name(node["name"])
        if norm in self.seen:
            line, _ = self.doc.where(self.seen[norm])
            self.problems.append(
                self.doc.problem(
                    where + ("name",),
                    (
                        f"discipline {node['name']!r} is already defined at line {line}: "
                        "discipline names must be unique"
                    ),
                )
            )
            return
        self.seen[norm] = where
        pinned = None
        if "subjects" in node:
            pinned = tuple(
                Subject(s["name"], s.get("level", ""), tuple(s.get("subtopics", [])))
                for s in node["subjects"]
            )
        settings = _settings(merged)
        # disciplines with equal settings share one object: what is derived from
        # settings is then worked out once (a 10,000-discipline spec has a handful)
        settings = self.settings_seen.setdefault(settings, settings)
        for stage in STAGES:
            if stage == "subjects" and pinned is not None:
                continue
            role = self.template.stage(stage).role
            if settings.model_for_stage(stage, role) is None:
                self.missing_roles.setdefault(role, []).append(where)
        line, _ = self.doc.where(where)
        self.disciplines.append(Discipline(path, settings, pinned, line))

    def check_judge(self, where: JsonPath) -> None:
        """quality.judge needs the template's judge stage, and a model for its role."""
        if not self.template.has("judge"):
            self.problems.append(
                self.doc.problem(where, "the template has no judge stage: add one, or remove judge")
            )
            return
        role = self.template.stage("judge").role
        for d in self.disciplines:
            if d.settings.model_for_stage("judge", role) is None:
                self.problems.append(
                    self.doc.problem(
                        where,
                        f"the judge needs a model: set settings.models.{role} (role {role!r})",
                    )
                )
                return

    def report_missing_roles(self) -> None:
        for role, wheres in self.missing_roles.items():
            more = f" (and {len(wheres) - 1} more disciplines)" if len(wheres) > 1 else ""
            self.problems.append(
                self.doc.problem(
                    wheres[0],
                    (
                        f"no model for role {role!r}{more}: set settings.models.{role} "
                        "on this node or an ancestor"
                    ),
                )
            )


def load_taxonomy(
    path: str | Path, doc: Document | None = None, *, keep_pending: bool = False
) -> Taxonomy:
    """Load, validate and resolve a taxonomy spec; raise ``SpecError`` with every problem.
    Nodes under review (``review: pending`` or ``drop``) are left out with their
    subtrees; ``keep_pending`` takes pending ones in, as if kept (what would they add?)."""
    doc = doc or load_yaml(path)
    problems = schema_problems(doc, "taxonomy")
    if problems:
        raise SpecError(problems)
    data = doc.data
    try:
        template = load_template(data.get("template", "default"), doc.path.parent)
    except GlancError as exc:
        if isinstance(exc, SpecError):
            raise
        raise SpecError([doc.problem(("template",), str(exc))]) from None
    resolver = _Resolver(doc, template, keep_pending)
    if why := name_problem(data["name"]):
        resolver.problems.append(doc.problem(("name",), why))
    root = data.get("settings") or {}
    resolver.check_names(root, ("settings",))
    resolver.check_models(root, ("settings",))
    resolver.walk(data["taxonomy"], (), root, ("taxonomy",))
    resolver.report_missing_roles()
    if (
        not resolver.problems
        and not any(r.state == "pending" for r in resolver.reviewed)
        and not any(d.settings.questions_per_subject for d in resolver.disciplines)
    ):
        resolver.problems.append(
            doc.problem(
                ("settings", "questions_per_subject"),
                "the spec asks for no rows (questions_per_subject is 0 everywhere): "
                "set it above 0 on the disciplines to build",
            )
        )
    quality = _quality(doc, data.get("quality") or {}, resolver.problems)
    if quality.enabled and quality.judge is not None:
        resolver.check_judge(("quality", "judge"))
    if resolver.problems:
        raise SpecError(sorted(resolver.problems, key=lambda p: (p.line, p.col)))
    return Taxonomy(
        name=data["name"],
        path=doc.path,
        seed=int(data.get("seed", 0)),
        template=template,
        disciplines=tuple(resolver.disciplines),
        digest=digest(
            {
                "taxonomy": _reviewed_in(data, keep_pending),
                "template": template_digest_source(template),
            }
        ),
        description=str(data.get("description", "")).strip(),
        license=data.get("license"),
        quality=quality,
        reviewed=tuple(resolver.reviewed),
        execution=ExecutionSpec(**(data.get("execution") or {})),
    )


def template_digest_source(template: Template) -> dict[str, Any]:
    return {
        stage: {
            "role": t.role,
            "instructions": t.instructions,
            "inputs": [[f.name, f.schema] for f in t.inputs],
            "outputs": [[f.name, f.schema] for f in t.outputs],
            "decoding": dict(t.decoding),
            **_prompt_digest_source(t),
        }
        for stage, t in template.stages
    }


def _quality(doc: Document, raw: dict[str, Any], problems: list[Problem]) -> QualitySpec:
    """The ``quality:`` section with its defaults; benchmark files must exist."""
    checks = []
    for name in (*CHECKS, *STAGE_CHECKS):
        value = (raw.get("checks") or {}).get(name, True)
        if value is not False:
            params = value if isinstance(value, dict) else {}
            checks.append((name, tuple(sorted(params.items()))))
    dedup = raw.get("dedup", True)
    threshold = None if dedup is False else (dedup.get("threshold", 0.8) if dedup is not True
                                             else 0.8)  # fmt: skip
    benchmarks = []
    for i, item in enumerate(raw.get("decontaminate") or []):
        item = {"path": item} if isinstance(item, str) else item
        path = doc.path.parent / item["path"]
        if why := trust.spec_file_problem(path, doc.path.parent, "benchmark file"):
            problems.append(doc.problem(("quality", "decontaminate", i), why))
            continue
        path = path.resolve()
        if not path.is_file():
            where = ("quality", "decontaminate", i)
            problems.append(doc.problem(where, f"benchmark file {item['path']!r} not found: "
                                               "give a path relative to this spec"))  # fmt: skip
            continue
        benchmarks.append(Benchmark(path, item.get("field"), int(item.get("ngram", 13))))
    return QualitySpec(
        judge=None if "judge" not in raw else int(raw["judge"]["threshold"]),
        enabled=bool(raw.get("enabled", True)),
        redraws=int(raw.get("redraws", 3)),
        checks=tuple(checks),
        dedup=None if threshold is None else float(threshold),
        benchmarks=tuple(benchmarks),
        coverage=tuple(sorted((str(k), float(v)) for k, v in (raw.get("coverage") or {}).items())),
    )


def _prompt_digest_source(t: StageTemplate) -> dict[str, Any]:
    """A text, list or outline stage's prompt; nothing for a json stage, so that
    the digests of templates written before these formats stay as they were."""
    if t.structured:
        return {}
    example = None if t.example is None else [dict(t.example[0]), t.example[1]]
    return {"format": t.format, "prompt": t.prompt, "example": example}


def settings_at(data: dict[str, Any], path: tuple[str, ...]) -> Settings:
    """The settings a node at ``path`` (names from the top) inherits and sets: what
    its children would inherit. ``data``: a valid spec's mapping."""
    merged = data.get("settings") or {}
    nodes = data["taxonomy"]
    for name in path:
        node = next(n for n in nodes if n["name"] == name)
        merged = _merge(merged, node.get("settings") or {})
        nodes = node.get("children") or []
    return _settings(merged)


def _reviewed_in(data: dict[str, Any], keep_pending: bool) -> dict[str, Any]:
    """The spec as a build sees it: nodes under review left out, and the review
    marks of the others dropped, so suggesting, reviewing and keeping nodes changes
    the digest (the manifest's, the no-op stamp's) only when the build changes."""

    def nodes(items: list[dict]) -> list[dict]:
        out = []
        for node in items:
            if _left_out(node, keep_pending):
                continue
            node = {k: v for k, v in node.items() if k not in ("review", "suggested")}
            if "children" in node:
                node["children"] = nodes(node["children"])
            out.append(node)
        return out

    seen = {k: v for k, v in data.items() if k != "execution"}  # where calls run: no change
    return {**seen, "taxonomy": nodes(data["taxonomy"])}
