"""COPY text of staging.py: the bytes a record is written and hashed as (orders.py `_serialise`) must not change
with how they are built, or every stored ref's hash would stop matching and each order look changed once."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal

from commerce.services.staging import _json, copy_field, copy_row


def test_json_values_are_the_sorted_compact_ascii_bytes_of_the_json_module():
    document = {"zip": "400000", "city": "Cluj-Napoca", "street": "Strada Lungă 5\tbis", "note": 'say "hi"\\',
                "lines": [{"b": Decimal("1.50"), "a": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)}, None, True, 3],
                "day": date(2026, 1, 2)}
    expected = json.dumps(document, sort_keys=True, separators=(",", ":"),
                          default=lambda v: v.isoformat() if isinstance(v, date) else str(v))
    assert _json(document) == expected.replace("\\", "\\\\").replace("\t", "\\t")
    assert copy_field(document) == _json(document) and copy_field([1, "ă"]) == '[1,"\\\\u0103"]'


def test_a_row_escapes_what_copy_would_misread_and_writes_null_as_backslash_n():
    assert copy_row(["a\tb", None, "c\\d\ne\r", 7, False, Decimal("2.50")]) == "a\\tb\t\\N\tc\\\\d\\ne\\r\t7\tf\t2.50"
