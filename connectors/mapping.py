"""What every provider's mapping.py needs to read a record: its one error, required fields, amounts and times.

A record that cannot be mapped must fail by name: MappingError says which field
of which record is missing or unreadable, so the sync (syncjobs/engine.py counts
a ValueError as a failed record) reports that record as failed instead of
writing half of it or guessing a value. Each provider's mapping re-exports
MappingError under its own module, and wraps these functions only where its
records really differ (money objects, epoch times, times without a zone).

"Missing" means the same everywhere here: None or the empty string.
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from decimal import Decimal, InvalidOperation
from typing import Any


class MappingError(ValueError):
    """A provider record lacks a field the ERP needs, or has it in an unusable form."""


def required(record: dict[str, Any], key: str, where: str) -> Any:
    """`record[key]`; MappingError when it is missing, since a record without it cannot be written whole."""
    value = record.get(key)
    if value is None or value == "":
        raise MappingError(f"{where} has no {key}.")
    return value


def decimal_amount(value: Any, key: str, where: str) -> Decimal:
    """An amount as an exact, finite Decimal (providers send strings; never through float).

    MappingError naming `key` when the amount is missing, unreadable, or NaN /
    infinity — a total the ERP would store wrongly or not at all.
    """
    if value is None or value == "":
        raise MappingError(f"{where} has no {key}.")
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise MappingError(f"{where} has a {key} that is not an amount: {value!r}.") from None
    if not amount.is_finite():
        raise MappingError(f"{where} has a {key} that is not an amount: {value!r}.")
    return amount


def utc_time(value: Any, key: str, where: str, *, naive_tz: tzinfo | None = None) -> datetime:
    """An ISO 8601 time as an aware UTC datetime.

    A time without an offset is read in `naive_tz` when the provider documents
    one (WooCommerce's `*_gmt` fields are UTC); without it such a time is a
    MappingError, since guessing its zone would shift it by hours. Missing or
    unparseable times are MappingErrors naming `key` too.
    """
    if not value:
        raise MappingError(f"{where} has no {key}.")
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        raise MappingError(f"{where} has a {key} that is not an ISO 8601 time: {value!r}.") from None
    if parsed.tzinfo is None:
        if naive_tz is None:
            raise MappingError(f"{where} has a {key} without a time zone: {value!r}.")
        parsed = parsed.replace(tzinfo=naive_tz)
    return parsed.astimezone(UTC)
