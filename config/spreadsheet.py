"""CSV for people: every CSV file the product writes is opened in a spreadsheet sooner or later, so every writer
goes through here.

Formula injection (OWASP "CSV Injection"): a spreadsheet runs a cell starting with `=`, `+`, `-` or `@` (and, in
some programs, a tab or carriage return before one) as a formula, so an order whose customer name someone typed as
`=HYPERLINK(...)` or `=cmd|' /C calc'!A0` would run on the operator's machine when the backup is opened. A text
cell starting with one of those characters is written with a single quote before it, which spreadsheets show as
text and do not evaluate. Values that are numbers in our records (int, Decimal, float) are written as numbers, so
a refund of -12.50 stays the number -12.50; only text is prefixed (whoever restores text from such a file drops
one leading quote where one of these characters follows it).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_cell(value: Any) -> str:
    """The text of one cell: "" for None, ISO 8601 for times, numbers as numbers, formula-looking text quoted."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int | float | Decimal):
        return str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    text = str(value)
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text


def csv_bytes(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    """A UTF-8, comma-separated file: a header row, then one row per item, every cell through `spreadsheet_cell`."""
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow([spreadsheet_cell(name) for name in columns])
    for row in rows:
        writer.writerow([spreadsheet_cell(value) for value in row])
    return out.getvalue().encode("utf-8")
