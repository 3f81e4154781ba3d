"""The stub model: a deterministic fake for tests and dry runs, never a default.

It answers every request with JSON that satisfies the response schema, derived
from a hash of the request (so from the node key's contents); its rows are
marked ``stub`` in the dataset and the card.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from typing import Any

from .wire import response, response_schema


class StubEngine:
    """A deterministic fake model for tests and dry runs.

    It answers a structured request with JSON that satisfies the response
    schema, and a plain-text one in the shape of its example turn, derived from
    a hash of the request (so from the node key's contents), after an optional
    simulated latency. Never a default; its rows are marked stub.
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
        seed = hashlib.sha256(seed_text.encode()).hexdigest()
        example = _example_reply(request)
        if request.config.response_format is None and example is not None:
            text = _mimic(example, request.messages[-1].text or "", seed)
        else:
            schema = response_schema(request.config.response_format) or {"type": "object"}
            text = json.dumps(_fake(schema, schema, seed, "value"))
        tokens_in = sum(len((m.text or "").split()) for m in request.messages)
        tokens_in += len((request.system or "").split())
        return response(request, text, "stop", tokens_in, len(text.split()))


def _example_reply(request: Any) -> str | None:
    """The text of the last assistant turn (a plain-text stage's example), if any."""
    for message in reversed(request.messages):
        if message.role == "assistant" and message.text:
            return message.text
    return None


_PREFIX = re.compile(r"^(\s*(?:\d+\s*[.):]|[-*]|[A-Za-z ]{3,20}\d*\s*:)?\s*)(.*)$")
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'-]{3,}")
_SHORT = frozenset(
    "what which with that this these their there when where does from have into".split()
)


# words a stub reply fills in after its prompt's own: enough that no reply repeats itself
_FILLER = tuple(
    """account action amount answer area balance basis behaviour boundary capacity case cause
    centre change choice claim class condition context contrast control cost course cycle data
    decision degree design detail difference direction distance effect element energy event
    evidence example factor feature field figure force form frame function group growth history
    idea image impact increase instance interval island journey language layer level limit link
    material matter measure method model moment motion network number object order outcome part
    pattern period picture place point policy position practice pressure principle problem
    process property purpose quality question range rate reason record region relation report
    resource result river role route rule sample scale season sense series shape signal skill
    source space speed stage standard state step story structure study surface system table task
    term test theory thing time tool topic trade unit value view volume water weight window world
    """.split()
)


def _mimic(example: str, prompt: str, seed: str) -> str:
    """A plain-text reply in the shape of the example's: its lines, numbering,
    labels and punctuation, and its short words, with every longer word replaced
    by a word of this call's prompt (then of a fixed list), picked by ``seed``
    without repeats. Lists parse, questions end with a question mark, and every
    reply is on its prompt's topic."""
    topical = sorted({w.lower() for w in _WORD.findall(prompt)} - _SHORT)
    words_in = iter(_shuffled(topical, seed) + _shuffled(list(_FILLER), seed))
    out = []
    for i, line in enumerate(example.splitlines()):
        prefix, rest = _PREFIX.match(line).groups()
        words = []
        for token in rest.split():
            core = token.strip(".,;:?!()'\"")
            if len(core) >= 4 and core.isalpha() and core.lower() not in _SHORT:
                pick = next(words_in, "stub")
                pick = pick.capitalize() if core[0].isupper() else pick
                token = token.replace(core, pick, 1)
            words.append(token)
        if words:  # every line its own tag: list items and subjects never collide
            words.insert(0, "Stub-" + hashlib.sha256(f"{seed}/{i}".encode()).hexdigest()[:6])
        out.append(prefix + " ".join(words))
    return "\n".join(out)


def _shuffled(items: list[str], seed: str) -> list[str]:
    return sorted(items, key=lambda w: hashlib.sha256(f"{seed}/{w}".encode()).digest())


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
