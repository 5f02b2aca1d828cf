"""Fixtures every connector test may use: no sleeping between retries, made-up hosts resolving to a public address.

Helpers (recorded answers, signatures) are in support.py; fake connectors in http_fakes.py.
"""

from __future__ import annotations

import pytest

from connectors import http
from tests.connectors.http_fakes import fake_public_dns


@pytest.fixture
def sleeps(monkeypatch) -> list[float]:
    """The HTTP client's backoff sleeps, recorded instead of slept."""
    slept: list[float] = []
    monkeypatch.setattr(http, "sleep", slept.append)
    return slept


@pytest.fixture
def public_dns(monkeypatch) -> None:
    """Made-up host names resolve to a public address (literal IPs still parse as themselves)."""
    fake_public_dns(monkeypatch)
