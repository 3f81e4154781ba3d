"""Content hashes for nodes and specs.

A node's key is sha256 over canonical JSON (sorted keys, no whitespace,
UTF-8) of everything that can change its output, and nothing else. Canonical
JSON rather than ``repr()``: it is stable across Python versions and readable
when debugging a key. Anything that is not plain JSON raises, so a stray set or
float NaN can never make two runs disagree silently.
"""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any

# Bump when the hashing rules change: every key changes with it, on purpose.
HASH_SCHEME = 1


class NotJSONError(TypeError):
    pass


def _check(value: Any, path: str) -> None:
    if value is None or isinstance(value, (str, bool, int)):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise NotJSONError(f"{path}: {value!r} is not JSON")
        return
    if isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _check(item, f"{path}[{i}]")
        return
    if isinstance(value, dict):
        for k, item in value.items():
            if not isinstance(k, str):
                raise NotJSONError(f"{path}: key {k!r} is not a string")
            _check(item, f"{path}.{k}")
        return
    raise NotJSONError(f"{path}: {type(value).__name__} is not JSON")


def canonical_json(value: Any) -> str:
    """Serialise plain JSON data canonically; raise ``NotJSONError`` otherwise."""
    _check(value, "$")
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def digest(value: Any) -> str:
    """sha256 hex of the canonical JSON of ``value``."""
    return hashlib.sha256(canonical_json(value).encode("utf-8")).hexdigest()


def node_key(
    *,
    stage: str,
    program: dict[str, Any],
    model: dict[str, Any],
    decoding: dict[str, Any],
    inputs: dict[str, Any],
    sample: int,
) -> str:
    """The cache key of one model call; see the module docstring for the rules."""
    return digest(
        {
            "scheme": HASH_SCHEME,
            "stage": stage,
            "program": program,
            "model": model,
            "decoding": decoding,
            "inputs": inputs,
            "sample": sample,
        }
    )


def file_sha256(path: str, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()
