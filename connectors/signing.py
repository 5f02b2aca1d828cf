"""Signing primitives that webhook schemes are built from: headers, HMAC-SHA256, constant-time compare, time window.

Every verifier built on them has the same shape, `verify(headers, body, secrets, **options) -> bool`:

- `headers` any mapping (names compared case-insensitively), `body` the raw
  bytes exactly as received — never a re-serialized JSON, which would no longer
  match;
- `secrets` the candidate secrets (the integration's webhook_secret, plus an
  old one during a rotation); an empty secret never matches;
- the answer is a bool: a missing, malformed or stale header is "not verified",
  never an exception, so a hostile request cannot turn into a 500.

Comparisons are constant-time (`hmac.compare_digest`, every candidate tried);
where a scheme signs a timestamp, `fresh` keeps it within `tolerance` seconds.
Provider schemes live in their folders (`connectors/<provider>/webhooks.py`),
schemes several providers share in connectors/schemes.py. This module imports
nothing from Django.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Iterable, Mapping

DEFAULT_TOLERANCE = 300  # seconds: Stripe, Slack and Standard Webhooks all document five minutes
ENCODINGS = ("hex", "base64")


def header(headers: Mapping[str, str], name: str) -> str:
    """A header's value by name, whatever case the server or the framework gave it ("" when absent)."""
    value = headers.get(name)
    if value is None:
        lowered = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == lowered), None)
    return (value or "").strip()


def hmac_sha256(secret: str | bytes, message: bytes) -> bytes:
    key = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(key, message, hashlib.sha256).digest()


def usable(secrets: Iterable[str]) -> list[str]:
    """The candidate secrets that may match: an empty one never does."""
    return [s for s in secrets if s]


def any_equal(given: bytes, expected: Iterable[bytes]) -> bool:
    """Constant-time comparison against every candidate (no early exit that would tell which one matched)."""
    matched = False
    for candidate in expected:
        matched |= hmac.compare_digest(given, candidate)
    return matched


def fresh(timestamp: str, *, tolerance: int, now: float | None = None, future: bool) -> int | None:
    """The timestamp as an int when it is within the window (and, if `future`, not too far ahead), else None."""
    try:
        value = int(timestamp)
    except (TypeError, ValueError):
        return None
    current = time.time() if now is None else now
    if value < current - tolerance or (future and value > current + tolerance):
        return None
    return value


def hex_hmacs(message: bytes, secrets: Iterable[str]) -> list[bytes]:
    """The hex HMAC-SHA256 of `message` under each usable secret, as bytes to compare against."""
    return [hmac_sha256(s, message).hex().encode() for s in usable(secrets)]


def verify_body_hmac(given: str, body: bytes, secrets: Iterable[str], *, encoding: str) -> bool:
    """Whether `given` is the HMAC-SHA256 of the raw body under one of `secrets`, `hex` (any case) or `base64`."""
    if not given:
        return False
    if encoding == "hex":
        return any_equal(given.lower().encode(), hex_hmacs(body, secrets))
    expected = [base64.b64encode(hmac_sha256(s, body)) for s in usable(secrets)]
    return any_equal(given.encode(), expected)


def verify_hmac_sha256(
    headers: Mapping[str, str],
    body: bytes,
    secrets: Iterable[str],
    *,
    header_name: str = "X-Signature",
    encoding: str = "hex",
    prefix: str = "",
) -> bool:
    """A generic HMAC-SHA256 of the raw body in a configurable header, `hex` or `base64`, after an optional prefix.

    For providers without a scheme of their own (an integration's
    `config["webhook"]` names `header`, `encoding` and `prefix`, e.g. `sha256=`).
    """
    if encoding not in ENCODINGS:
        raise ValueError(f"Unknown signature encoding {encoding!r}: use hex or base64.")
    given = header(headers, header_name)
    if prefix:
        if not given.startswith(prefix):
            return False
        given = given[len(prefix):]
    return verify_body_hmac(given.strip(), body, secrets, encoding=encoding)


def _standard_webhooks_key(secret: str) -> bytes | None:
    """`whsec_<base64>` (or bare base64) → the key bytes; None when it is not base64."""
    raw = secret[len("whsec_"):] if secret.startswith("whsec_") else secret
    try:
        return base64.b64decode(raw + "=" * (-len(raw) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None


def verify_standard_webhooks(
    headers: Mapping[str, str],
    body: bytes,
    secrets: Iterable[str],
    *,
    tolerance: int = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> bool:
    """Standard Webhooks: `webhook-signature: v1,<base64> […]` over `"{webhook-id}.{webhook-timestamp}.{body}"`.

    The key is the base64 part of the `whsec_…` secret; timestamps more than
    `tolerance` seconds away, either way, are refused.
    """
    msg_id, timestamp = header(headers, "webhook-id"), header(headers, "webhook-timestamp")
    signatures = header(headers, "webhook-signature").split()
    if not msg_id or not signatures or fresh(timestamp, tolerance=tolerance, now=now, future=True) is None:
        return False
    signed = f"{msg_id}.{timestamp}.".encode() + body
    keys = [key for key in (_standard_webhooks_key(s) for s in usable(secrets)) if key]
    expected = [base64.b64encode(hmac_sha256(key, signed)) for key in keys]
    matched = False
    for versioned in signatures:
        version, _, signature = versioned.partition(",")
        if version == "v1" and signature:
            matched |= any_equal(signature.encode(), expected)
    return matched
