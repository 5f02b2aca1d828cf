"""How a customer's personal data is shown in lists and the admin: enough to recognise, not to read.

`jane.doe@example.com` → `j•••@example.com`; a phone keeps its last two digits;
an address keeps its city and country only. Detail views (one order, for the
people who ship it) show the data; lists, admin changelists and logs never do.
"""

from __future__ import annotations

from typing import Any

MASK = "•••"


def mask_email(value: str) -> str:
    if not value:
        return ""
    local, at, domain = value.partition("@")
    return f"{local[:1]}{MASK}@{domain}" if at else MASK


def mask_phone(value: str) -> str:
    digits = "".join(ch for ch in value or "" if ch.isdigit())
    return f"{MASK}{digits[-2:]}" if digits else ""


def mask_address(address: dict[str, Any] | None) -> dict[str, str]:
    """Only where it goes (city, province, country); no name, street, zip or phone."""
    address = address or {}
    return {k: str(address.get(k) or "") for k in ("city", "province_code", "country_code") if address.get(k)}
