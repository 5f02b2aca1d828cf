"""TikTok Shop's request signature: every Open API call carries `sign` in its query.

sign = hex HMAC-SHA256(key=app_secret, message = app_secret + path + k1v1k2v2… + body + app_secret), where
the k/v pairs are the query parameters except `sign` and `access_token`, sorted by name, and the body is the
raw request body exactly as sent (none for GET; not for multipart uploads). The query also carries
`app_key`, `timestamp` (Unix seconds; TikTok accepts −5 min … +30 s, else code 36009004) and, for shop
resources, `shop_cipher`; the access token travels in the `x-tts-access-token` header, outside the signature.
A wrong signature is code 106001.

What can go wrong: a body re-serialized after signing (whitespace, key order) no longer matches, so the
client signs the very bytes it sends (`body_bytes`), never a dict.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

UNSIGNED = frozenset({"sign", "access_token"})


def body_bytes(body: Any) -> bytes:
    """The JSON body as sent: compact, in the caller's key order (empty for no body)."""
    return b"" if body is None else json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


def string_to_sign(app_secret: str, path: str, params: Mapping[str, Any], body: bytes = b"") -> bytes:
    pairs = "".join(f"{key}{params[key]}" for key in sorted(params) if key not in UNSIGNED)
    return app_secret.encode() + path.encode() + pairs.encode() + body + app_secret.encode()


def sign(app_secret: str, path: str, params: Mapping[str, Any], body: bytes = b"") -> str:
    message = string_to_sign(app_secret, path, params, body)
    return hmac.new(app_secret.encode(), message, hashlib.sha256).hexdigest()
