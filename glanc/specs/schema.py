"""Check spec documents against their JSON Schemas and the stage contract.

Every problem is collected and reported together, each located as
``file:line:col: json.path: message`` -- a user fixing a spec should not have
to rerun once per mistake.
"""

from __future__ import annotations

import functools
import re
from typing import Any

import jsonschema
from jsonschema.exceptions import ValidationError, best_match

from ..errors import Problem
from . import resources
from .contract import PROVIDED_INPUTS, REQUIRED_OUTPUTS, check_output, output_name_problem
from .load import Document, JsonPath

_SECRET_OPTIONS = {
    "api_key_env": "must name an environment variable (letters, digits, _), not hold a key: "
    "put the key in an environment variable and name it here (the value is not shown)",
    "api_key": "must be env:NAME, naming the environment variable that holds the key "
    "(the value is not shown)",
    "api_base": "must be an http(s) URL without credentials, or env:NAME (a URL with "
    "user:password@ belongs in an environment variable; the value is not shown)",
}


def _message(error: ValidationError, doc: Document) -> list[tuple[JsonPath, str]]:
    path = tuple(error.absolute_path)
    kind = error.validator
    if kind == "additionalProperties" and isinstance(error.instance, dict):
        allowed = sorted(error.schema.get("properties", {}))
        extra = [k for k in error.instance if k not in allowed]
        hint = f"allowed keys are {', '.join(allowed)}" if allowed else "no keys are allowed here"
        if not allowed and isinstance(error.schema.get("additionalProperties"), dict):
            hint = "check the spelling"
        return [(path + (k,), f"unknown key {k!r}: {hint}") for k in extra]
    if kind == "required":
        return [(path, error.message.replace("is a required property", "is required: add it"))]
    if kind == "not" and isinstance(error.instance, dict) and "children" in error.instance:
        return [
            (path, "a node has either 'children' (a field) or 'subjects' (a discipline), not both")
        ]
    if path and path[-1] in _SECRET_OPTIONS and kind in ("pattern", "type"):
        return [(path, _SECRET_OPTIONS[path[-1]])]  # never echo the value: it may be a key
    if kind in ("oneOf", "anyOf") and error.context:
        in_models = path and path[-1] == "models" or (len(path) >= 2 and path[-2] == "models")
        if in_models and isinstance(error.instance, dict):
            inner = [e for e in error.context if tuple(e.absolute_path) != path]
            if inner:
                return [m for e in inner for m in _message(e, doc)]
        if in_models:
            return [
                (
                    path,
                    "a model is a string id or an object with 'id' "
                    "(and optionally latency_ms, api_base, api_key_env, n_ctx)",
                )
            ]
        inner = best_match(error.context)
        return [(tuple(inner.absolute_path), inner.message)]
    if kind == "const":
        return [(path, f"must be {error.validator_value!r}")]
    if kind == "type":  # the value itself is not echoed: it may be a whole file's text
        want = error.validator_value
        want = " or ".join(want) if isinstance(want, list) else want
        return [(path, f"must be of type {want}")]
    if kind == "pattern" and path and path[-1] == "name":
        return [(path, f"{error.instance!r} is not a valid name ({error.schema.get('pattern')})")]
    return [(path, error.message)]


def schema_problems(doc: Document, schema_name: str) -> list[Problem]:
    """All JSON Schema violations of ``doc``, sorted by position in the file."""
    validator = jsonschema.Draft202012Validator(resources.schema(schema_name))
    if schema_name == "taxonomy" and validator.is_valid(_without_plain_leaves(doc.data)):
        return []
    problems: list[Problem] = []
    for error in validator.iter_errors(doc.data):
        for path, message in _message(error, doc):
            problems.append(doc.problem(path, message))
    return sorted(set(problems), key=lambda p: (p.line, p.col, p.path, p.message))


def _arrays_without_bound(schema: dict[str, Any], path: JsonPath) -> list[JsonPath]:
    out: list[JsonPath] = []
    if schema.get("type") == "array":
        if "maxItems" not in schema:
            out.append(path)
        if isinstance(schema.get("items"), dict):
            out += _arrays_without_bound(schema["items"], path + ("items",))
    for name, sub in (schema.get("properties") or {}).items():
        out += _arrays_without_bound(sub, path + ("properties", name))
    return out


def template_problems(doc: Document) -> list[Problem]:
    """Schema violations plus the stage contract: inputs glanc can fill, outputs it reads."""
    problems = schema_problems(doc, "template")
    if problems:
        return problems
    for stage, body in doc.data["stages"].items():
        base: JsonPath = ("stages", stage)
        provided = PROVIDED_INPUTS[stage]
        for name, schema in body["inputs"].items():
            where = base + ("inputs", name)
            if name not in provided:
                problems.append(
                    doc.problem(
                        where,
                        (
                            f"stage {stage!r} has no input {name!r}: "
                            f"use one of {', '.join(sorted(provided))}"
                        ),
                    )
                )
            elif schema["type"] != provided[name]:
                problems.append(
                    doc.problem(
                        where + ("type",),
                        (f"input {name!r} is a {provided[name]}: set type: {provided[name]}"),
                    )
                )
        for name in REQUIRED_OUTPUTS[stage]:
            if name not in body["outputs"]:
                problems.append(
                    doc.problem(
                        base + ("outputs",),
                        (f"stage {stage!r} must output {name!r}: add it to outputs"),
                    )
                )
            elif why := check_output(stage, name, body["outputs"][name]):
                problems.append(doc.problem(base + ("outputs", name), f"{name!r} {why}"))
        for name in body["outputs"]:
            if why := output_name_problem(stage, name):
                problems.append(doc.problem(base + ("outputs", name), why))
        for name, schema in body["outputs"].items():
            for where in _arrays_without_bound(schema, base + ("outputs", name)):
                problems.append(
                    doc.problem(
                        where,
                        (
                            "array without maxItems: bound it so a small model cannot repeat "
                            "items forever"
                        ),
                    )
                )
        for field_kind in ("inputs", "outputs"):
            for name, schema in body[field_kind].items():
                problems += _required_problems(doc, schema, base + (field_kind, name))
        problems += _format_problems(doc, body, base)
    return problems


_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_SHAPES = {
    "text": ("string", "a string"),
    "list": ("array", "an array"),
    "outline": ("array", "an array of objects with name and key_concepts"),
}


def _format_problems(doc: Document, body: dict[str, Any], base: JsonPath) -> list[Problem]:
    """A text, list or outline stage: its prompt names only its inputs, its example
    fills them, and it has the one output that kind of reply can fill."""
    fmt = body.get("format", "json")
    if fmt == "json":
        for key in ("prompt", "example"):
            if key in body:
                return [doc.problem(base + (key,), f"{key!r} needs format text, list or outline")]
        return []
    if "prompt" not in body:
        return [doc.problem(base, f"format {fmt!r} needs a 'prompt' (the user message)")]
    out: list[Problem] = []
    inputs = body["inputs"]
    for name in _PLACEHOLDER.findall(body["prompt"]):
        if name not in inputs:
            out.append(
                doc.problem(
                    base + ("prompt",),
                    f"{{{name}}} is not an input of this stage: use one of {', '.join(inputs)}",
                )
            )
    example = body.get("example")
    if example is not None:
        for name in sorted(set(_PLACEHOLDER.findall(body["prompt"])) - set(example["inputs"])):
            out.append(
                doc.problem(base + ("example", "inputs"), f"the example needs a value for {name!r}")
            )
    outputs = body["outputs"]
    want, words = _SHAPES[fmt]
    if len(outputs) != 1:
        out.append(
            doc.problem(base + ("outputs",), f"format {fmt!r} fills exactly one output field")
        )
    elif next(iter(outputs.values())).get("type") != want:
        out.append(doc.problem(base + ("outputs",), f"format {fmt!r} fills {words}"))
    return out


def _required_problems(doc: Document, schema: dict[str, Any], path: JsonPath) -> list[Problem]:
    out: list[Problem] = []
    props = schema.get("properties") or {}
    for i, name in enumerate(schema.get("required") or []):
        if name not in props:
            out.append(
                doc.problem(
                    path + ("required", i), f"required names {name!r}, which is not in properties"
                )
            )
    for name, sub in props.items():
        out += _required_problems(doc, sub, path + ("properties", name))
    if isinstance(schema.get("items"), dict):
        out += _required_problems(doc, schema["items"], path + ("items",))
    return out


@functools.cache
def _plain_leaf_check() -> Any:
    """A test for taxonomy nodes that are only ``{name: ...}``, exactly as the schema
    judges them; None where the schema's node is not the shape this assumes."""
    node = resources.schema("taxonomy")["$defs"]["node"]
    name = node["properties"]["name"]
    array = node["properties"]["children"]
    if (node.get("required") != ["name"] or set(name) != {"type", "minLength", "pattern"}
            or name["type"] != "string" or set(array) != {"type", "minItems", "items"}
            or array["minItems"] != 1
            or resources.schema("taxonomy")["properties"]["taxonomy"] != array):  # fmt: skip
        return None
    pattern, least = re.compile(name["pattern"]), name["minLength"]

    def plain(item: Any) -> bool:
        if type(item) is not dict or len(item) != 1:
            return False
        value = item.get("name")
        return type(value) is str and len(value) >= least and pattern.search(value) is not None

    return plain


def _without_plain_leaves(data: Any) -> Any:
    """A copy of a taxonomy document without the plain leaves that ``_plain_leaf_check``
    passes (each list keeps its first item, for minItems): valid exactly when the
    document is. jsonschema took 0.3 s over the 10,000 leaves of a 10M-pair spec,
    most of a plan's load; a document with problems is validated whole, so every
    problem keeps its place."""
    plain = _plain_leaf_check()
    if plain is None or type(data) is not dict or type(data.get("taxonomy")) is not list:
        return data

    def walk(items: list) -> list:
        out = []
        for node in (n for i, n in enumerate(items) if i == 0 or not plain(n)):
            children = node.get("children") if type(node) is dict else None
            if type(children) is list:
                node = {**node, "children": walk(children)}
            out.append(node)
        return out

    return {**data, "taxonomy": walk(data["taxonomy"])}
