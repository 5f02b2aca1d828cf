"""How the console shows values a person reads: bodies as indented JSON, money with its currency's decimals,
addresses as lines. Presentation only; the records keep what the services wrote."""

from __future__ import annotations

import json
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

# ISO 4217 minor units where they are not 2 (every other currency has cents).
_MINOR_UNITS = {
    **dict.fromkeys(("BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI", "VND",
                     "VUV", "XAF", "XOF", "XPF"), 0),
    **dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3),
    **dict.fromkeys(("CLF", "UYW"), 4),
}


def currency_decimals(currency: str) -> int:
    return _MINOR_UNITS.get((currency or "").upper(), 2)


def money(amount: Decimal | float | int | None, currency: str) -> str:
    """`1,292.49 EUR`, `15,000 JPY`, `12.500 KWD`: the amount rounded to the currency's minor unit."""
    if amount is None:
        return "–"
    places = currency_decimals(currency)
    value = Decimal(str(amount)).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    return f"{value:,.{places}f} {currency}".strip()


def _parsed(value: Any) -> Any:
    """Text that holds a JSON object or list, parsed (a call log's `body` string); anything else as it is."""
    if isinstance(value, (bytes, bytearray)):
        value = bytes(value).decode("utf-8", errors="replace")
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except ValueError:
            return value
        return parsed if isinstance(parsed, (dict, list)) else value
    return value


def pretty_body(value: Any) -> SafeString:
    """A JSON value (or text) indented in a scrollable block; text that holds JSON, alone or as an object's
    `body` or `text` (the call log's request and response), is indented too. A body cut short stays text."""
    value = _parsed(value)
    if isinstance(value, dict):
        value = {key: _parsed(item) if key in ("body", "text") else item for key, item in value.items()}
    if value in (None, "", {}, []):
        return format_html('<span class="muted">{}</span>', "(empty)")
    text = value if isinstance(value, str) else json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True)
    return format_html('<pre class="switchyard-body">{}</pre>', text)


# The order the lines of an address are written in, whatever keys the channel's mapping used.
_ADDRESS_LINES = (
    ("name", "first_name", "last_name"), ("company",), ("address1", "street", "line1"), ("address2", "line2"),
    ("zip", "postal_code", "city", "province_code", "province", "region"), ("country_code", "country"),
    ("phone",),
)


def address(value: Any) -> SafeString | str:
    """A postal address (the channel's JSON object) as the lines on an envelope; unknown keys after them."""
    if not isinstance(value, dict) or not any(value.values()):
        return "–"
    used: set[str] = set()
    lines = []
    for keys in _ADDRESS_LINES:
        parts = [str(value[key]).strip() for key in keys if value.get(key) not in (None, "")]
        used.update(keys)
        if any(parts):
            lines.append(" ".join(part for part in parts if part))
    lines += [f"{key}: {item}" for key, item in value.items() if key not in used and item not in (None, "", {}, [])]
    return format_html('<address class="switchyard-address">{}</address>',
                       format_html_join("\n", "{}", ((line,) for line in lines)))
