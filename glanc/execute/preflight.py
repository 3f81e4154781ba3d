"""Checks before a build touches the store or calls a model: fail fast, in one line."""

from __future__ import annotations

import socket
from urllib.parse import urlparse

from ..errors import GlancError
from ..lm.credentials import endpoint, redact
from ..recipe.graph import Graph


def preflight(graph: Graph, offline: bool = False) -> None:
    """Fail fast, before the store is touched, on a remote model whose settings
    are missing or malformed (every ``env:`` reference, ``api_key_env``,
    credentials) or whose server cannot be reached. Messages never hold a secret.
    ``offline``: batched models' calls go to a batch file, not their server."""
    for info in graph.models_used():
        if info.kind != "remote":
            continue
        where = endpoint(info)
        if not where.base or (offline and info.batch):
            continue
        url = urlparse(where.base)
        port = url.port or (443 if url.scheme == "https" else 80)
        try:
            socket.create_connection((url.hostname, port), timeout=5).close()
        except OSError as exc:
            why = redact(exc.strerror or str(exc), where.secrets)
            raise GlancError(
                f"model {info.ref.id}: cannot reach {where.base}: {why}; "
                "start the server or fix api_base"
            ) from None
