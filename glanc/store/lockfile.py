"""The lock: every node a build used, as text in the build directory.

With the lock committed next to the dataset (``lock/``, a file per discipline),
a fresh clone rebuilds the same dataset without a model call (the build reads
the lock into its store), and ``glanc check`` proves in CI that the committed
dataset is what the spec and the lock produce. One JSON object per line, each
file sorted by key, canonical JSON: a spec change shows up in review as the
lines it adds and removes, in the files of the disciplines it touches.
"""

from __future__ import annotations

import bisect
import json
import re
from array import array
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson

from ..errors import GlancError
from .nodes import Store


def lock_lines(store: Store) -> Iterator[tuple[str, str]]:
    """The lock's lines for the nodes this build used (``Store.use``), with their
    shard: key, stage, model, output, tokens and the slot and digests that let
    ``glanc plan`` explain later changes."""
    for shard, key, stage, model, output, tin, tout, slot, program, model_key, dkey in (
        store.locked()
    ):
        entry = {
            "key": key,
            "stage": stage,
            "model": model,
            "output": json.loads(output),
            "tokens": [tin, tout],
            "slot": slot,
            "program": program,
            "model_key": model_key,
            "decoding_key": dkey,
        }
        yield shard, json.dumps(entry, ensure_ascii=False, sort_keys=True,
                                separators=(",", ":")) + "\n"  # fmt: skip


def rehydrate(store: Store, paths: Sequence[Path], outputs: Outputs) -> int:
    """Load a build's lock (its shards) into the store; nodes already there win.
    The whole lock is validated first (``validate``): a bad one is refused with
    the store untouched."""
    paths = [p for p in paths if p.is_file()]
    if not paths:
        return 0
    validate(paths, outputs)
    import duckdb

    try:
        return store.import_lock(paths)
    except duckdb.OutOfMemoryException:
        raise  # the store's memory bound, not the file: the CLI says so in one line
    except duckdb.Error as exc:
        first = str(exc).strip().splitlines()[0]
        raise GlancError(
            f"{paths[0].parent}: not a glanc lock ({first}); restore it from git or delete it"
        ) from None


MAX_LINE_BYTES = 16 << 20  # DuckDB's read_json refuses larger objects
_HEX64 = re.compile(r"[0-9a-f]{64}")
_TYPES: dict[str, Callable[[Any], bool]] = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "array": lambda v: isinstance(v, list),
    "object": lambda v: isinstance(v, dict),
}
# what each stage's output must hold: field -> (type, {item field: type})
Outputs = Mapping[str, Mapping[str, tuple[str, Mapping[str, str]]]]


def validate(paths: Path | Sequence[Path], outputs: Outputs) -> int:
    """Check every line of a lock (its shards, in order) before anything of it is
    stored, and return the number of entries; a ``GlancError`` naming the file,
    the line and what is wrong otherwise. A lock in a pull request is untrusted:
    a key on two lines of one shard, a key that is no digest or an
    output of the wrong shape would otherwise be imported and poison the store
    (later locks it wrote would be wrong too)."""
    paths = [paths] if isinstance(paths, Path) else list(paths)
    prefixes = array("Q")
    starts: list[tuple[int, Path]] = []  # (first index, file) of each file's keys
    ordered = True
    for path in paths:
        starts.append((len(prefixes), path))
        previous = ""
        try:
            with open(path, "rb") as f:
                for number, raw in enumerate(_lines(f, path), 1):
                    key = _check_line(raw, number, outputs, path)
                    if key <= previous:
                        ordered = False
                    previous = key
                    prefixes.append(int(key[:16], 16))
        except OSError as exc:
            raise GlancError(f"{path}: cannot read the lock ({exc.strerror or exc})") from None
    if not ordered or len(paths) > 1:
        _no_duplicates(starts, prefixes)
    return len(prefixes)


def _lines(f: Any, path: Path) -> Iterator[bytes]:
    number = 0
    while True:
        raw = f.readline(MAX_LINE_BYTES + 1)
        if not raw:
            return
        number += 1
        if len(raw) > MAX_LINE_BYTES:
            raise _bad(path, number, f"longer than {MAX_LINE_BYTES >> 20} MB")
        yield raw


def _bad(path: Path, line: int, what: str) -> GlancError:
    return GlancError(
        f"{path}:{line}: {what}; the lock was left unread and the store untouched: "
        "restore the lock from git (git checkout -- it) or rebuild it"
    )


def _check_line(raw: bytes, number: int, outputs: Outputs, path: Path) -> str:
    """The key of one valid lock line, or a ``GlancError`` saying what is wrong."""
    try:
        # orjson: strict JSON (no NaN, no lone surrogate, UTF-8 only), 3.4x json's speed
        entry = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise _bad(path, number, "not a JSON object (malformed JSON, not UTF-8, a NaN or a "
                                 "lone surrogate)") from None  # fmt: skip
    if not isinstance(entry, dict):
        raise _bad(path, number, "not a JSON object")
    key = entry.get("key")
    if not isinstance(key, str) or not _HEX64.fullmatch(key):
        raise _bad(path, number, "'key' must be 64 lowercase hex digits (a node's digest)")
    stage = entry.get("stage")
    if stage not in outputs:
        raise _bad(path, number, f"'stage' must be one of {', '.join(outputs)}")
    if not isinstance(entry.get("model"), str):
        raise _bad(path, number, "'model' must be a string")
    tokens = entry.get("tokens")
    if tokens is not None and not (
        isinstance(tokens, list)
        and len(tokens) == 2
        and all(t is None or (_TYPES["integer"](t) and 0 <= t < 2**63) for t in tokens)
    ):
        raise _bad(path, number, "'tokens' must be [input, output], two counts")
    for name in ("slot", "program", "model_key", "decoding_key"):
        if entry.get(name) is not None and not isinstance(entry[name], str):
            raise _bad(path, number, f"{name!r} must be a string")
    output = entry.get("output")
    if not isinstance(output, dict):
        raise _bad(path, number, f"'output' of this {stage} node must be a JSON object")
    for name, (kind, items) in outputs[stage].items():
        if why := _shape_problem(output.get(name), kind, items):
            raise _bad(path, number, f"output {name!r} of this {stage} node {why}")
    return key


def _shape_problem(value: Any, kind: str, items: Mapping[str, str]) -> str | None:
    if not _TYPES[kind](value):
        return f"must be of type {kind}"
    for i, item in enumerate(value if items else ()):
        if not isinstance(item, dict):
            return f"must be an array of objects (item {i} is not)"
        for name, item_kind in items.items():
            if not _TYPES[item_kind](item.get(name)):
                return f"item {i}: {name!r} must be of type {item_kind}"
    return None


def _no_duplicates(starts: list[tuple[int, Path]], prefixes: array) -> None:
    """No key on two lines of one file (a lock glanc writes has each key once in a
    shard, by key; a hand merge may not; two disciplines that share a key both
    list it): keys are compared by their first 64 bits, and equal ones read again
    whole."""
    import numpy as np

    keys = np.frombuffer(prefixes, dtype=np.uint64)
    order = np.argsort(keys, kind="stable")
    same = np.flatnonzero(keys[order][1:] == keys[order][:-1])
    if not len(same):
        return
    wanted = {int(order[i]) for i in same} | {int(order[i + 1]) for i in same}
    firsts = [first for first, _ in starts]

    def place(index: int) -> tuple[Path, int]:
        first, path = starts[bisect.bisect_right(firsts, index) - 1]
        return path, index - first

    full: dict[int, str] = {}
    for first, path in starts:
        here = {place(i)[1] for i in wanted if place(i)[0] == path}
        if not here:
            continue
        with open(path, "rb") as f:
            for line, raw in enumerate(f):
                if line in here:
                    full[first + line] = json.loads(raw)["key"]
    for i in same:
        a, b = sorted((int(order[i]), int(order[i + 1])))
        (path_a, line_a), (path_b, line_b) = place(a), place(b)
        if full[a] == full[b] and path_a == path_b:
            raise _bad(path_b, line_b + 1, f"key {full[b][:16]}... is also on line {line_a + 1}: "
                                           "a key appears once in a shard")  # fmt: skip
