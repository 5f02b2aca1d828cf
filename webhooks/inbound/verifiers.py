"""Signature verifiers for incoming webhooks: one small function per scheme.

Every verifier has the same shape, `verify_<scheme>(headers, body, secrets, **options) -> bool`:

- `headers` any mapping (names compared case-insensitively), `body` the raw
  bytes exactly as received — never a re-serialized JSON, which would no longer
  match;
- `secrets` the candidate secrets (the integration's webhook_secret, plus an
  old one during a rotation); an empty secret never matches;
- the answer is a bool: a missing, malformed or stale header is "not verified",
  never an exception, so a hostile request cannot turn into a 500.

Comparisons are constant-time (`hmac.compare_digest`) and, where the scheme
signs a timestamp, the timestamp must be within `tolerance` seconds (Stripe,
like its SDK, rejects only old timestamps; Slack and Standard Webhooks reject
both directions). This module imports nothing from Django models, so the
connectors can use it (connectors/sandbox/webhooks.py does).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Callable, Iterable, Mapping

DEFAULT_TOLERANCE = 300  # seconds: Stripe, Slack and Standard Webhooks all document five minutes

Verifier = Callable[..., bool]


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


def _usable(secrets: Iterable[str]) -> list[str]:
    return [s for s in secrets if s]


def _any_equal(given: bytes, expected: Iterable[bytes]) -> bool:
    """Constant-time comparison against every candidate (no early exit that would tell which one matched)."""
    matched = False
    for candidate in expected:
        matched |= hmac.compare_digest(given, candidate)
    return matched


def _fresh(timestamp: str, *, tolerance: int, now: float | None, future: bool) -> int | None:
    """The timestamp as an int when it is within the window (and, if `future`, not too far ahead), else None."""
    try:
        value = int(timestamp)
    except (TypeError, ValueError):
        return None
    current = time.time() if now is None else now
    if value < current - tolerance or (future and value > current + tolerance):
        return None
    return value


# ---------------------------------------------------------------- body-only HMAC schemes


def _verify_body_hmac(given: str, body: bytes, secrets: Iterable[str], *, encoding: str) -> bool:
    if not given:
        return False
    encode = (lambda d: base64.b64encode(d).decode()) if encoding == "base64" else (lambda d: d.hex())
    expected = [encode(hmac_sha256(s, body)).encode() for s in _usable(secrets)]
    if encoding == "hex":
        given = given.lower()
    return _any_equal(given.encode(), expected)


def verify_shopify(headers: Mapping[str, str], body: bytes, secrets: Iterable[str]) -> bool:
    """`X-Shopify-Hmac-Sha256`: base64 HMAC-SHA256 of the raw body under the app's client secret.

    Several secrets: after a rotation Shopify may sign with the old secret for up to an hour.
    """
    return _verify_body_hmac(header(headers, "X-Shopify-Hmac-Sha256"), body, secrets, encoding="base64")


def verify_woocommerce(headers: Mapping[str, str], body: bytes, secrets: Iterable[str]) -> bool:
    """`X-WC-Webhook-Signature`: base64 HMAC-SHA256 of the raw body under the webhook's secret."""
    return _verify_body_hmac(header(headers, "X-WC-Webhook-Signature"), body, secrets, encoding="base64")


def verify_meta(headers: Mapping[str, str], body: bytes, secrets: Iterable[str]) -> bool:
    """`X-Hub-Signature-256: sha256=<hex>`: HMAC-SHA256 of the raw body under the app secret.

    The legacy SHA-1 `X-Hub-Signature` is not accepted.
    """
    given = header(headers, "X-Hub-Signature-256")
    scheme, _, digest = given.partition("=")
    if scheme.lower() != "sha256" or not digest:
        return False
    return _verify_body_hmac(digest, body, secrets, encoding="hex")


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
    if encoding not in ("hex", "base64"):
        raise ValueError(f"Unknown signature encoding {encoding!r}: use hex or base64.")
    given = header(headers, header_name)
    if prefix:
        if not given.startswith(prefix):
            return False
        given = given[len(prefix) :]
    return _verify_body_hmac(given.strip(), body, secrets, encoding=encoding)


# ---------------------------------------------------------------- timestamped schemes


def verify_stripe(
    headers: Mapping[str, str],
    body: bytes,
    secrets: Iterable[str],
    *,
    tolerance: int = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> bool:
    """`Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>…]`: hex HMAC-SHA256 of `"{t}.{body}"` under `whsec_…`.

    Every `v1` is a candidate (Stripe sends several while an endpoint secret is
    rolled); `v0` and unknown schemes are ignored. As in Stripe's SDK, only a
    timestamp older than `tolerance` is refused: a future one is not.
    """
    timestamp, candidates = "", []
    for item in header(headers, "Stripe-Signature").split(","):
        key, _, value = item.strip().partition("=")
        if key == "t":
            timestamp = value
        elif key == "v1" and value:
            candidates.append(value.strip().lower().encode())
    if not candidates or _fresh(timestamp, tolerance=tolerance, now=now, future=False) is None:
        return False
    signed = timestamp.encode() + b"." + body
    expected = [hmac_sha256(s, signed).hex().encode() for s in _usable(secrets)]
    return any(_any_equal(given, expected) for given in candidates)


def verify_slack(
    headers: Mapping[str, str],
    body: bytes,
    secrets: Iterable[str],
    *,
    tolerance: int = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> bool:
    """`X-Slack-Signature: v0=<hex>` over `"v0:{X-Slack-Request-Timestamp}:{body}"` with the signing secret.

    A timestamp more than `tolerance` seconds from now, either way, is refused (Slack's replay rule).
    """
    timestamp = header(headers, "X-Slack-Request-Timestamp")
    version, _, digest = header(headers, "X-Slack-Signature").partition("=")
    if version != "v0" or not digest or _fresh(timestamp, tolerance=tolerance, now=now, future=True) is None:
        return False
    signed = b"v0:" + timestamp.encode() + b":" + body
    expected = [hmac_sha256(s, signed).hex().encode() for s in _usable(secrets)]
    return _any_equal(digest.lower().encode(), expected)


def _standard_webhooks_key(secret: str) -> bytes | None:
    """`whsec_<base64>` (or bare base64) → the key bytes; None when it is not base64."""
    raw = secret[len("whsec_") :] if secret.startswith("whsec_") else secret
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
    if not msg_id or not signatures or _fresh(timestamp, tolerance=tolerance, now=now, future=True) is None:
        return False
    signed = f"{msg_id}.{timestamp}.".encode() + body
    keys = [key for key in (_standard_webhooks_key(s) for s in _usable(secrets)) if key]
    expected = [base64.b64encode(hmac_sha256(key, signed)) for key in keys]
    matched = False
    for versioned in signatures:
        version, _, signature = versioned.partition(",")
        if version == "v1" and signature:
            matched |= _any_equal(signature.encode(), expected)
    return matched
