"""What each GLAN stage is given and must return: the fixed contract between
the build graph and a template spec.

A template may use any subset of a stage's inputs (only those it uses enter the
prompt and the node key) and may add output fields, but the outputs the graph
reads next must be there with the right shape.
"""

from __future__ import annotations

from typing import Any

# GLAN's stages in the order their nodes depend on each other; a template spec
# defines exactly these. What happens between them is the recipe's (glanc.recipe).
STAGES: tuple[str, ...] = ("subjects", "syllabus", "question", "answer")
# stages a template may add: the quality layer's judge scores each finished pair;
# ``children`` names taxonomy nodes for ``glanc suggest`` (GLAN's first step)
OPTIONAL_STAGES: tuple[str, ...] = ("judge", "children")

# The values glanc can fill in for each stage's input fields.
PROVIDED_INPUTS: dict[str, dict[str, str]] = {
    "subjects": {
        "discipline": "string",
        "taxonomy_path": "string",
        "language": "string",
        "levels": "array",
        "level": "string",
        "num_subjects": "integer",
    },
    "syllabus": {
        "discipline": "string",
        "subject": "string",
        "level": "string",
        "subtopics": "array",
        "language": "string",
        "num_sessions": "integer",
        "num_key_concepts": "integer",
    },
    "question": {
        "discipline": "string",
        "subject": "string",
        "level": "string",
        "syllabus": "string",
        "sessions": "array",
        "key_concepts": "array",
        "difficulty": "string",
        "language": "string",
    },
    "answer": {
        "question": "string",
        "discipline": "string",
        "subject": "string",
        "level": "string",
        "language": "string",
    },
    "children": {
        "parent": "string",
        "taxonomy_path": "string",
        "kind": "string",
        "num_children": "integer",
        "language": "string",
    },
    "judge": {
        "question": "string",
        "answer": "string",
        "discipline": "string",
        "subject": "string",
        "level": "string",
        "key_concepts": "array",
        "language": "string",
    },
}

# Output fields the graph reads: field -> required shape, as
# (type, {item property: type}) where item properties apply to arrays of objects.
REQUIRED_OUTPUTS: dict[str, dict[str, tuple[str, dict[str, str]]]] = {
    "subjects": {"subjects": ("array", {"name": "string"})},
    "syllabus": {"sessions": ("array", {"name": "string", "key_concepts": "array"})},
    "question": {"question": ("string", {})},
    "answer": {"answer": ("string", {})},
    "judge": {"score": ("integer", {}), "reason": ("string", {})},
    "children": {"children": ("array", {"name": "string"})},
}


def check_output(stage: str, name: str, schema: dict[str, Any]) -> str | None:
    """Why ``schema`` cannot serve as the required output ``name``, or None."""
    want_type, item_props = REQUIRED_OUTPUTS[stage][name]
    if schema.get("type") != want_type:
        return f"must have type {want_type!r}"
    if item_props:
        items = schema.get("items") or {}
        props = items.get("properties") or {}
        if items.get("type") != "object":
            return "must be an array of objects"
        for prop, ptype in item_props.items():
            if props.get(prop, {}).get("type") != ptype:
                return f"items must have a property {prop!r} of type {ptype!r}"
    return None


# Names a DSPy signature field cannot take: attributes of pydantic's BaseModel and
# of dspy.Signature (a field there breaks the class, or is shadowed and warns),
# DSPy's own (``instructions``, ``fields``, ``signature``) and Predict's call
# keywords. ``tests/test_validate.py`` checks the list against the installed packages.
RESERVED_NAMES = frozenset(
    {
        "append", "append_instructions", "construct", "copy", "delete", "dict", "dump_state",
        "equals", "from_orm", "insert", "json", "load_state", "model_computed_fields",
        "model_config", "model_construct", "model_copy", "model_dump", "model_dump_json",
        "model_extra", "model_fields", "model_fields_set", "model_json_schema",
        "model_parametrized_name", "model_post_init", "model_rebuild", "model_validate",
        "model_validate_json", "model_validate_strings", "parse_file", "parse_obj", "parse_raw",
        "prepend", "schema", "schema_json", "update_forward_refs", "validate",
        "with_instructions", "with_updated_fields",
        "instructions", "fields", "signature", "config", "demos", "lm", "new_signature",
        "completions",
    }
)  # fmt: skip


def output_name_problem(stage: str, name: str) -> str | None:
    """Why an output field may not be called ``name``, or None."""
    if name in PROVIDED_INPUTS[stage]:
        return (
            f"output {name!r} has the name of one of stage {stage!r}'s inputs: DSPy would drop "
            "that input from the prompt; rename the output"
        )
    if name in RESERVED_NAMES or name.startswith("model_"):
        return f"output name {name!r} is reserved by DSPy/pydantic: rename it"
    return None
