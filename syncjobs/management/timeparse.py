"""Command-line times: an ISO 8601 date (midnight UTC) or time (UTC when it names no zone)."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime


def parse_moment(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not an ISO 8601 date or time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
