"""The OpenAI Batch JSONL format both ways: a request's line, and what a result
line says (a reply to judge, a request to send again, or a failure and why).

Pure functions of the text: ``glanc.execute.backends.batch`` and
``glanc ingest`` read results through them, whatever wrote the file (a
provider, ``vllm run-batch``).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...errors import TRANSPORT, GlancError
from ...lm.openai_batch import CHAT_ENDPOINT, TRANSIENT

#: per-request errors in a batch's error file worth the same request again
RESEND_CODES = ("batch_expired", "batch_cancelled", "server_error", "rate_limit_exceeded",
                "timeout", "internal_error")  # fmt: skip
_CUSTOM_ID = re.compile(r'"custom_id"\s*:\s*"([^"]+)"')


def request_line(key: str, body: dict[str, Any] | None) -> bytes:
    """One request of a batch input file: ``custom_id`` is the node key."""
    line = {"custom_id": key, "method": "POST", "url": CHAT_ENDPOINT, "body": body}
    return (json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n").encode()


def chunks(
    pairs: list[tuple[str, bytes]], max_requests: int, max_bytes: int
) -> list[list[tuple[str, bytes]]]:
    """(key, line) pairs as batch files within a provider's caps, sorted by key:
    the same wave makes the same files, whatever order its calls came in."""
    out: list[list[tuple[str, bytes]]] = [[]]
    size = 0
    for key, line in sorted(pairs):
        if out[-1] and (len(out[-1]) >= max_requests or size + len(line) > max_bytes):
            out.append([])
            size = 0
        out[-1].append((key, line))
        size += len(line)
    return out


def write_file(path: Path, data: bytes) -> None:
    """A batch file for the user, whole or not at all."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise GlancError(
            f"{path}: cannot write the batch file ({exc.strerror}); choose another --batch-file"
        ) from None


def body_digest(body: dict[str, Any]) -> str:
    """What the store keeps of a request's body: enough to know it is the same one."""
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def custom_id(text: str) -> str | None:
    """A result line's ``custom_id``; read from the raw text of a line cut short."""
    try:
        value = json.loads(text).get("custom_id")
    except (ValueError, AttributeError):
        found = _CUSTOM_ID.search(text)
        value = found.group(1) if found else None
    return value if isinstance(value, str) else None


@dataclass(frozen=True)
class Result:
    """What one result line says: ``reply`` (a chat completion to judge),
    ``resend`` (the same request again: the provider failed it) or ``fail``."""

    kind: str
    why: str = ""
    completion: dict[str, Any] | None = None


def read(line: str) -> Result:
    try:
        parsed = json.loads(line)
        response, error = parsed.get("response"), parsed.get("error")
    except (ValueError, AttributeError):
        return Result("fail", f"{TRANSPORT}malformed batch output line (not JSON)")
    status = response.get("status_code") if isinstance(response, dict) else None
    if error or status != 200:
        return _failed(status, error, response)
    body = response.get("body")
    if not isinstance(body, dict) or not isinstance(body.get("choices"), list):
        return Result("fail", f"{TRANSPORT}malformed batch output line: its response.body is "
                      "not a chat completion")  # fmt: skip
    return Result("reply", completion=body)


def _failed(status: Any, error: Any, response: Any) -> Result:
    code = error.get("code") if isinstance(error, dict) else None
    detail = error.get("message") if isinstance(error, dict) else None
    body = response.get("body") if isinstance(response, dict) else None
    if detail is None and isinstance(body, dict):
        detail = json.dumps(body.get("error", body))[:200]
    if status:
        why = f"HTTP {status}: {detail}"
    elif code or detail:
        why = f"{code or 'error'}: {detail}"
    else:
        why = "a result line with neither a response nor an error"
    if status in TRANSIENT or code in RESEND_CODES:
        return Result("resend", why)
    return Result("fail", f"batch: {why}")


def batch_state(batch: dict[str, Any]) -> dict[str, Any]:
    """What the store keeps of a provider's batch object: its id, status, request
    counts, output and error files, and why it failed, if it did."""
    counts = batch.get("request_counts") or {}
    values = {
        "batch_id": str(batch.get("id")),
        "status": str(batch.get("status")),
        "completed": int(counts.get("completed") or 0),
        "failed": int(counts.get("failed") or 0),
        "output_file": batch.get("output_file_id"),
        "error_file": batch.get("error_file_id"),
    }
    found = batch.get("errors")
    errors = found.get("data") if isinstance(found, dict) else None
    if errors:
        values["note"] = "; ".join(str(e.get("message", e)) for e in errors)[:300]
    return values
