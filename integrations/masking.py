"""How a secret is shown to people: its presence and its last four characters, never more."""

from __future__ import annotations

from .encryption import UnreadableSecret

MASK = "••••"


def mask_secret(value: str | None | UnreadableSecret) -> str:
    """`••••1234` for a secret long enough to spare four characters, `••••` for a short one, "" for none; a value
    under a key this process lacks shows as unreadable, naming the key."""
    if isinstance(value, UnreadableSecret):
        return f"{MASK} (unreadable: key {value.key_id})"
    if not value:
        return ""
    return f"{MASK}{value[-4:]}" if len(value) >= 12 else MASK
