"""RFC 7636 PKCE: a verifier kept (encrypted) on the OAuthState, and its S256 challenge sent to the provider."""

from __future__ import annotations

import base64
import hashlib
import secrets

VERIFIER_BYTES = 48  # 64 URL-safe characters; RFC 7636 allows 43 to 128


def new_verifier() -> str:
    return secrets.token_urlsafe(VERIFIER_BYTES)


def s256_challenge(verifier: str) -> str:
    """BASE64URL(SHA256(ASCII(verifier))) without padding (RFC 7636 4.2)."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
