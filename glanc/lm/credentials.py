"""Where a remote model lives and how glanc proves who it is, without ever
showing a secret.

A key is never in a spec: ``api_key: env:NAME`` or ``api_key_env: NAME`` name
the environment variable that holds it. ``api_base`` is a URL or ``env:NAME``;
a URL from the environment may carry ``user:password@``, which glanc sends as
HTTP basic auth (to OpenAI-compatible servers, through its own engine) and
never shows. Every message glanc prints or stores goes through ``redact``.
"""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import quote, quote_plus, unquote, urlsplit, urlunsplit

from ..errors import GlancError
from ..specs.models import ModelInfo

ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://)[^\s/@]*@")
# well-known key shapes: OpenAI, Anthropic, Hugging Face, GitHub, bearer tokens
_KEY_SHAPES = re.compile(
    r"\b(?:sk-[A-Za-z0-9_\-]{8,}|hf_[A-Za-z0-9]{8,}|gh[pousr]_[A-Za-z0-9]{8,})"
    r"|(?i:bearer\s+)[A-Za-z0-9._\-]{8,}"
)


def secret_forms(
    key: str | None = None, basic: tuple[str, str] | None = None
) -> tuple[str, ...]:
    """Every form in which a key or a ``user:password`` may come back in a
    server's text: as is, URL-encoded, and base64 (HTTP Basic's form, which a
    server echoing its request headers shows), longest first."""
    plain = [s for s in (key, *(basic or ()),) if s]
    if basic:
        plain.append(f"{basic[0]}:{basic[1]}")
    forms = set()
    for s in plain:
        forms.update((s, quote(s, safe=""), quote_plus(s)))
        forms.add(base64.b64encode(s.encode()).decode("ascii"))
    return tuple(sorted((f for f in forms if f), key=lambda f: (-len(f), f)))


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with the given secret values, any URL's ``user:password@`` and
    anything shaped like an API key replaced by ``***``. Redact a whole text
    before cutting it: a cut through a secret leaves a piece no match finds."""
    for secret in sorted(secrets, key=len, reverse=True):
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    text = _USERINFO.sub(r"\1***@", text)
    return _KEY_SHAPES.sub("***", text)


@dataclass(frozen=True)
class Endpoint:
    """A remote model's resolved connection settings."""

    base: str | None  # the server URL without credentials
    api_key: str | None
    basic: tuple[str, str] | None  # user and password from the URL
    secrets: tuple[str, ...]  # every value to keep out of messages


def _env(model: str, name: str, option: str) -> str:
    if not ENV_NAME.match(name):
        raise GlancError(
            f"model {model}: {option} must name an environment variable (letters, digits, _), "
            "not hold a value: put the key in an environment variable and name it here"
        )
    value = os.environ.get(name)
    if value is None:
        raise GlancError(
            f"model {model}: environment variable {name} ({option}) is not set: export it, "
            "then run again"
        )
    return value


def env_names(info: ModelInfo) -> tuple[str, ...]:
    """The environment variables a model's key and server are read from: what a
    process that calls it elsewhere (a Ray worker on a cluster) must be given."""
    ref = info.ref
    names = [str(ref.option("api_key_env") or "")]
    names += [str(v)[4:] for v in (ref.option("api_key"), ref.option("api_base"))
              if str(v or "").startswith("env:")]  # fmt: skip
    return tuple(n for n in names if ENV_NAME.match(n))


def endpoint(info: ModelInfo) -> Endpoint:
    """Resolve a remote model's ``api_base`` and key from the spec and the
    environment; raise ``GlancError`` (its message free of secrets) when one is
    missing or malformed. No network."""
    ref = info.ref
    model = ref.id
    key = None
    if ref.option("api_key"):
        option = str(ref.option("api_key"))
        key = _env(model, option[4:] if option.startswith("env:") else "", "api_key")
    if ref.option("api_key_env"):
        key = _env(model, str(ref.option("api_key_env")), "api_key_env")
    raw = ref.option("api_base")
    if not raw:
        return Endpoint(None, key, None, secret_forms(key))
    raw = str(raw)
    from_env = raw.startswith("env:")
    url = _env(model, raw[4:], "api_base") if from_env else raw
    parts = urlsplit(url)
    shown = redact(url) if from_env else url
    if parts.scheme not in ("http", "https") or not parts.hostname:
        where = f" (from {raw[4:]})" if from_env else ""
        raise GlancError(f"model {model}: api_base{where} must be an http(s) URL, not {shown!r}")
    secrets = [s for s in (key,) if s]
    basic = None
    if parts.username is not None or parts.password is not None:
        if not from_env:
            raise GlancError(
                f"model {model}: api_base holds credentials in the spec: move the URL to an "
                "environment variable (api_base: env:NAME) or the key to api_key_env"
            )
        if not (model.startswith("openai/")):
            raise GlancError(
                f"model {model}: credentials in api_base are sent only to openai/NAME servers; "
                "use api_key_env for this provider"
            )
        if key:
            raise GlancError(
                f"model {model}: api_base carries credentials and an api key is set: use one"
            )
        basic = (unquote(parts.username or ""), unquote(parts.password or ""))
        secrets += [s for s in (parts.username, parts.password, *basic) if s]
        host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
        netloc = host + (f":{parts.port}" if parts.port else "")
        url = urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    secrets += secret_forms(key, basic)
    return Endpoint(url, key, basic, tuple(dict.fromkeys(secrets)))
