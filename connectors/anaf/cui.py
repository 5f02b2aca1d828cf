"""Romanian tax ids (CUI/CIF): read them as people write them, and refuse a wrong one before any call.

Accepted: "RO 14399840", "ro14399840", "14399840", with spaces or dots. The
check digit is the last one: the other digits, right-aligned under the key
753217532, are multiplied pairwise and summed; ×10 mod 11, and 10 counts as 0.
"""

from __future__ import annotations

from typing import Any

from config.errors import ValidationError

KEY = "753217532"
MIN_DIGITS, MAX_DIGITS = 2, 10


def check_digit(body: str) -> int:
    """The check digit of a CUI's digits without its last one."""
    weights = KEY[-len(body):]
    total = sum(int(d) * int(w) for d, w in zip(body, weights, strict=True))
    return total * 10 % 11 % 10


def is_valid(digits: str) -> bool:
    return (digits.isdigit() and MIN_DIGITS <= len(digits) <= MAX_DIGITS and digits[0] != "0"
            and check_digit(digits[:-1]) == int(digits[-1]))


def normalize_cui(value: Any, *, field: str = "cui") -> int:
    """The CUI as the integer ANAF takes; ValidationError naming `field` for anything that is no valid CUI."""
    text = "".join(str(value if value is not None else "").split()).replace(".", "").upper()
    text = text.removeprefix("RO")
    if not text.isdigit() or not MIN_DIGITS <= len(text) <= MAX_DIGITS:
        raise ValidationError(f"{value!r} is not a Romanian tax id (CUI): 2 to 10 digits, optionally after RO.",
                              details={field: ["not a CUI"]})
    if not is_valid(text):
        raise ValidationError(f"{value!r} is not a valid CUI: its check digit does not match.",
                              details={field: ["wrong check digit"]})
    return int(text)
