"""Content hashes for nodes and specs, and the form under which names match.

A node's key is sha256 over canonical JSON (sorted keys, no whitespace,
UTF-8) of everything that can change its output, and nothing else. Canonical
JSON rather than ``repr()``: it is stable across Python versions and readable
when debugging a key. Anything that is not plain JSON raises, so a stray set or
float NaN can never make two runs disagree silently.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import re
from typing import Any

# Bump when the hashing rules change: every key changes with it, on purpose.
HASH_SCHEME = 1


class NotJSONError(TypeError):
    def __init__(self, problem: str, path: str):
        super().__init__(f"${path}: {problem}")
        self.problem, self.path = problem, path

    def under(self, segment: str) -> NotJSONError:
        return NotJSONError(self.problem, segment + self.path)


_SCALARS = (str, int, bool, type(None))


def _check(value: Any) -> None:
    """Raise ``NotJSONError`` for anything but plain JSON. Hot (every node key
    walks its inputs), so it dispatches on exact types and builds the error's
    path only on the way out of a failure."""
    kind = type(value)
    if kind in _SCALARS:
        return
    if kind is float:
        if not math.isfinite(value):
            raise NotJSONError(f"{value!r} is not JSON", "")
        return
    if kind is list or kind is tuple:
        for i, item in enumerate(value):
            if type(item) is not str:
                try:
                    _check(item)
                except NotJSONError as exc:
                    raise exc.under(f"[{i}]") from None
        return
    if kind is dict:
        for k, item in value.items():
            if type(k) is not str:
                raise NotJSONError(f"key {k!r} is not a string", "")
            if type(item) is not str:
                try:
                    _check(item)
                except NotJSONError as exc:
                    raise exc.under(f".{k}") from None
        return
    raise NotJSONError(f"{kind.__name__} is not JSON", "")


# one encoder for every call: json.dumps with options builds a new one each time,
# which was a third of the cost of hashing a small node's inputs
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_json(value: Any) -> str:
    """Serialise plain JSON data canonically; raise ``NotJSONError`` otherwise."""
    _check(value)
    return _CANONICAL.encode(value)


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
    return node_key_from_json(
        stage=stage,
        program=canonical_json(program),
        model=canonical_json(model),
        decoding=canonical_json(decoding),
        inputs=canonical_json(inputs),
        sample=sample,
    )


def node_key_from_json(
    *,
    stage: str,
    program: str,
    model: str,
    decoding: str,
    inputs: str,
    sample: int,
    stage_json: str | None = None,
) -> str:
    """``node_key`` with the parts shared by many nodes given as their canonical
    JSON, computed once: the program alone is a few kilobytes of JSON Schema.
    Assembles exactly the canonical JSON ``node_key`` hashes (keys in sorted order);
    ``stage_json``, the stage's canonical JSON, when the caller has it."""
    if type(sample) is not int:
        raise NotJSONError(f"sample {sample!r} is not an integer", "")
    text = (
        f'{{"decoding":{decoding},"inputs":{inputs},"model":{model},'
        f'"program":{program},"sample":{sample},"scheme":{HASH_SCHEME},'
        f'"stage":{stage_json or canonical_json(stage)}}}'
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def file_sha256(path: str, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


@functools.lru_cache(maxsize=1 << 16)
def normalise_name(name: str) -> str:
    """The form under which two names count as the same (case, spacing, punctuation):
    slots, row ids, selectors and subject merging all compare names this way."""
    return re.sub(r"[\W_]+", " ", name.casefold()).strip()


def hex_ranges(count: int, per_range: int) -> list[tuple[str, str | None]]:
    """[low, high) ranges of hex digests (None: no upper bound), cut at their first
    two hex digits so that each of ``count`` evenly spread digests' ranges holds
    about ``per_range`` (any other string still falls in exactly one range): a
    sort a range at a time, ranges in order, is the one sort in less memory."""
    parts = max(1, min(256, -(-count // per_range)))
    cuts = [f"{256 * i // parts:02x}" for i in range(1, parts)]
    return list(zip(["", *cuts], [*cuts, None], strict=True))
