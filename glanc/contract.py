"""What each GLAN stage is given and must return: the fixed contract between
the build graph and a template spec.

A template may use any subset of a stage's inputs (only those it uses enter the
prompt and the node key) and may add output fields, but the outputs the graph
reads next must be there with the right shape.
"""

from __future__ import annotations

from typing import Any

# The values glanc can fill in for each stage's input fields.
PROVIDED_INPUTS: dict[str, dict[str, str]] = {
    "subjects": {
        "discipline": "string",
        "taxonomy_path": "string",
        "language": "string",
        "levels": "array",
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
}

# Output fields the graph reads: field -> required shape, as
# (type, {item property: type}) where item properties apply to arrays of objects.
REQUIRED_OUTPUTS: dict[str, dict[str, tuple[str, dict[str, str]]]] = {
    "subjects": {"subjects": ("array", {"name": "string"})},
    "syllabus": {"sessions": ("array", {"name": "string", "key_concepts": "array"})},
    "question": {"question": ("string", {})},
    "answer": {"answer": ("string", {})},
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
