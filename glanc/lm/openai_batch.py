"""A client of the OpenAI Batch API: files in, batches, files out.

The same endpoints serve OpenAI and the hosts and proxies that follow its
protocol (LiteLLM's proxy in front of vLLM; glanc's own fake for tests):
``POST /files`` (purpose ``batch``), ``POST /batches``,
``GET /batches/{id}``, ``GET /batches`` (to find a batch a killed client
created but never recorded), ``POST /batches/{id}/cancel`` and
``GET /files/{id}/content``. Failures of the server or the network are retried
here with backoff; anything else is a ``BatchAPIError`` whose message never
holds a secret.
"""

from __future__ import annotations

import base64
import http.client
import json
import random
import time
import uuid
from typing import Any
from urllib.parse import urlencode, urlsplit

from .credentials import Endpoint, redact

CHAT_ENDPOINT = "/v1/chat/completions"
TRANSIENT = (408, 409, 425, 429, 500, 502, 503, 504)
TERMINAL = ("completed", "failed", "expired", "cancelled")


class BatchAPIError(Exception):
    """The Batch API refused a request, or kept failing it."""


class Unreachable(BatchAPIError):
    """The server or the network kept failing a request (429, 5xx, no reply)."""


class BatchClient:
    """One provider's files and batches endpoints, at ``where.base``."""

    def __init__(self, where: Endpoint, timeout: float = 120.0, tries: int = 6):
        url = urlsplit(where.base or "")
        if url.scheme not in ("http", "https") or not url.hostname:
            raise BatchAPIError("api_base must be an http(s) URL")
        self._https, self._host, self._port = url.scheme == "https", url.hostname, url.port
        self._root = (url.path or "").rstrip("/")
        self._headers = {"Accept": "application/json"}
        if where.api_key:
            self._headers["Authorization"] = f"Bearer {where.api_key}"
        elif where.basic:
            token = base64.b64encode(f"{where.basic[0]}:{where.basic[1]}".encode()).decode()
            self._headers["Authorization"] = f"Basic {token}"
        self._secrets = where.secrets
        self.timeout, self.tries = timeout, tries

    # -- the protocol -----------------------------------------------------------
    def upload(self, name: str, data: bytes) -> dict[str, Any]:
        """Upload a batch input file (JSONL); its ``id`` names it to ``create``."""
        boundary = uuid.uuid4().hex
        body = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nbatch\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
            "Content-Type: application/jsonl\r\n\r\n"
        ).encode() + data + f"\r\n--{boundary}--\r\n".encode()
        return self._json("POST", "/files", body, f"multipart/form-data; boundary={boundary}")

    def create(self, input_file: str, window: str, metadata: dict[str, str]) -> dict[str, Any]:
        """Start a batch of ``input_file``. A create whose reply was lost may still
        have made the batch: before each new try, look for it, so one file is
        never two batches (never paid twice)."""
        body = json.dumps(
            {
                "input_file_id": input_file,
                "endpoint": CHAT_ENDPOINT,
                "completion_window": window,
                "metadata": metadata,
            }
        ).encode()
        for attempt in range(self.tries):
            if attempt:
                found = self.find(input_file)
                if found is not None:
                    return found
            try:
                return self._json("POST", "/batches", body, "application/json", tries=1)
            except Unreachable:
                if attempt == self.tries - 1:
                    raise
        raise AssertionError("unreachable")

    def retrieve(self, batch_id: str) -> dict[str, Any]:
        return self._json("GET", f"/batches/{batch_id}")

    def cancel(self, batch_id: str) -> dict[str, Any]:
        return self._json("POST", f"/batches/{batch_id}/cancel", b"", "application/json")

    def find(self, input_file: str, pages: int = 20) -> dict[str, Any] | None:
        """The batch made from ``input_file``, if any: a client killed between
        creating a batch and recording its id finds it here instead of paying twice."""
        after = None
        for _ in range(pages):
            query = {"limit": 100, **({"after": after} if after else {})}
            page = self._json("GET", "/batches?" + urlencode(query))
            for batch in page.get("data") or []:
                if batch.get("input_file_id") == input_file:
                    return batch
            if not page.get("has_more") or not page.get("data"):
                return None
            after = page["data"][-1].get("id")
        return None

    def content(self, file_id: str) -> bytes:
        return self._request("GET", f"/files/{file_id}/content")[1]

    # -- the transport ------------------------------------------------------------
    def _json(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        kind: str | None = None,
        tries: int | None = None,
    ) -> dict[str, Any]:
        _, data = self._request(method, path, body, kind, tries)
        try:
            out = json.loads(data)
        except ValueError:
            raise BatchAPIError(f"{method} {path}: a reply not JSON: {data[:80]!r}") from None
        if not isinstance(out, dict):
            raise BatchAPIError(f"{method} {path}: a reply that is not a JSON object")
        return out

    def _request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        kind: str | None = None,
        tries: int | None = None,
    ) -> tuple[int, bytes]:
        headers = dict(self._headers)
        if kind:
            headers["Content-Type"] = kind
        problem = ""
        tries = self.tries if tries is None else tries
        for attempt in range(tries):
            if attempt:
                time.sleep(min(30.0, 0.5 * 2**attempt) * random.uniform(0.5, 1))
            conn_class = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            conn = conn_class(self._host, self._port, timeout=self.timeout)
            try:
                conn.request(method, self._root + path, body, headers)
                reply = conn.getresponse()
                status, data = reply.status, reply.read()
            except (OSError, http.client.HTTPException) as exc:
                problem = f"{type(exc).__name__}: {str(exc)[:200]}"
                continue
            finally:
                conn.close()
            if status in TRANSIENT:
                problem = f"HTTP {status}: {data[:200].decode('utf-8', 'replace')}"
                continue
            if status >= 400:
                raise BatchAPIError(
                    redact(
                        f"{method} {path}: HTTP {status}: {_detail(data)}", self._secrets
                    )
                )
            return status, data
        raise Unreachable(
            redact(f"{method} {path}: {problem} (after {tries} tries)", self._secrets)
        )


def _detail(data: bytes) -> str:
    try:
        body = json.loads(data)
        return json.dumps(body.get("error", body) if isinstance(body, dict) else body)[:200]
    except ValueError:
        return data[:200].decode("utf-8", "replace")
