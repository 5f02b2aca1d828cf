"""How a secret is shown to people: its presence and its last four characters, never more."""

from __future__ import annotations

MASK = "••••"


def mask_secret(value: str | None) -> str:
    """`••••1234` for a secret long enough to spare four characters, `••••` for a short one, "" for none."""
    if not value:
        return ""
    return f"{MASK}{value[-4:]}" if len(value) >= 12 else MASK
