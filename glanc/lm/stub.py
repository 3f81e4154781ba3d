"""The stub model: a deterministic fake for tests and dry runs, never a default.

It answers every request with JSON that satisfies the response schema, derived
from a hash of the request (so from the node key's contents); its rows are
marked ``stub`` in the dataset and the card.
"""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any

from .wire import response, response_schema


class StubEngine:
    """A deterministic fake model for tests and dry runs.

    It answers every request with JSON that satisfies the response schema,
    derived from a hash of the request (so from the node key's contents), after
    an optional simulated latency. Never a default; its rows are marked stub.
    """

    supports_response_schema = True
    supported_params = ("response_format",)

    def __init__(self, latency_ms: float = 0.0, name: str = "stub"):
        self.latency = latency_ms / 1000.0
        self.salt = [] if name == "stub" else [name]  # 'stub:NAME' writes other outputs

    def complete(self, request: Any):
        if self.latency:
            time.sleep(self.latency)
        seed_text = json.dumps(
            [request.system, [m.text for m in request.messages], request.config.seed, *self.salt],
            sort_keys=True,
        )
        schema = response_schema(request.config.response_format) or {"type": "object"}
        value = _fake(schema, schema, hashlib.sha256(seed_text.encode()).hexdigest(), "value")
        text = json.dumps(value)
        tokens_in = sum(len((m.text or "").split()) for m in request.messages)
        tokens_in += len((request.system or "").split())
        return response(request, text, "stop", tokens_in, len(text.split()))


def _fake(schema: dict[str, Any], root: dict[str, Any], seed: str, name: str) -> Any:
    """A value of ``schema``, chosen by ``seed``; ``$ref`` resolved against ``root``."""
    if "$ref" in schema:
        target: Any = root
        for part in schema["$ref"].lstrip("#/").split("/"):
            target = target[part]
        return _fake(target, root, seed, name)
    if "anyOf" in schema:
        return _fake(schema["anyOf"][0], root, seed, name)
    if "enum" in schema:
        return schema["enum"][int(seed[:6], 16) % len(schema["enum"])]
    kind = schema.get("type", "string")
    tag = seed[:8]
    if kind == "object":
        props = schema.get("properties", {})
        return {
            prop: _fake(sub, root, hashlib.sha256(f"{seed}/{prop}".encode()).hexdigest(), prop)
            for prop, sub in props.items()
        }
    if kind == "array":
        lo = schema.get("minItems", 1)
        hi = schema.get("maxItems", lo + 3)
        n = max(lo, min(hi, 3))
        item = schema.get("items", {"type": "string"})
        return [
            _fake(item, root, hashlib.sha256(f"{seed}/{i}".encode()).hexdigest(), name)
            for i in range(n)
        ]
    if kind == "integer":
        return int(seed[:4], 16) % 100
    if kind == "number":
        return round(int(seed[:4], 16) / 655.36, 2)
    if kind == "boolean":
        return int(seed[:2], 16) % 2 == 0
    return f"stub {name} {tag}"
