"""Locate the files glanc ships: JSON Schemas and the default template spec.

In a wheel the schemas sit in ``glanc/_schemas`` (hatch copies them there); in
a source checkout they are the top-level ``schemas/`` that editors point at.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

_PACKAGE = Path(__file__).resolve().parent.parent  # glanc/


def schema_dir() -> Path:
    for candidate in (_PACKAGE / "_schemas", _PACKAGE.parent / "schemas"):
        if (candidate / "taxonomy.schema.json").is_file():
            return candidate
    raise FileNotFoundError("glanc's JSON Schemas are missing: reinstall glanc")


@functools.cache
def schema(name: str) -> dict[str, Any]:
    """``name`` is ``taxonomy`` or ``template``."""
    return json.loads((schema_dir() / f"{name}.schema.json").read_text(encoding="utf-8"))


BUILTIN_TEMPLATES = ("default", "json")


def builtin_template(name: str) -> Path:
    """``default`` (plain-text stages, for any model) or ``json`` (structured stages)."""
    return _PACKAGE / "templates" / f"{name}.yaml"


def default_template() -> Path:
    return builtin_template("default")
