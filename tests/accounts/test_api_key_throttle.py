"""Failed API-key authentication is throttled per client address: after the limit, 429 RATE_LIMITED with Retry-After.

Only failures are counted and refused: a correct key from the same address
still works (keys carry far too much entropy to guess, and an ERP behind the
same NAT as a misconfigured client must not lose its integration).
"""

from __future__ import annotations

import secrets

import pytest
from rest_framework.test import APIClient

from accounts import throttling
from tests.factories import ApiKeyFactory

pytestmark = pytest.mark.django_db

ADDRESS = "203.0.113.50"


@pytest.fixture(autouse=True)
def one_window(monkeypatch):
    """The clock stands still mid-window: hundreds of requests on a busy machine must not straddle the edge of a
    fixed window, where the count starts again (the tests would then see a 401 where they expect a 429)."""
    monkeypatch.setattr(throttling.time, "time", lambda: 1_000_030.0)


@pytest.fixture(autouse=True)
def clean_counter(one_window):
    throttling.failures_forget(ADDRESS)
    throttling.failures_forget("198.51.100.9")
    yield
    throttling.failures_forget(ADDRESS)
    throttling.failures_forget("198.51.100.9")


def _get(header: str, address: str = ADDRESS):
    client = APIClient(REMOTE_ADDR=address)
    client.credentials(HTTP_AUTHORIZATION=header)
    return client.get("/api/integrations/")


def test_defaults(settings):
    assert settings.API_KEY_FAILURE_LIMIT == 20 and settings.API_KEY_FAILURE_WINDOW_SECONDS == 60


def test_300_bad_keys_get_429_with_retry_after_after_the_limit(settings):
    answers = [_get(f"Api-Key sy_wrong{n:04d}") for n in range(300)]

    limit = settings.API_KEY_FAILURE_LIMIT
    assert [r.status_code for r in answers[:limit]] == [401] * limit
    assert {r.status_code for r in answers[limit:]} == {429}
    throttled = answers[-1]
    assert throttled.json()["error"]["code"] == "RATE_LIMITED"
    assert set(throttled.json()["error"]) == {"code", "message", "details"}
    assert 1 <= int(throttled["Retry-After"]) <= settings.API_KEY_FAILURE_WINDOW_SECONDS


def test_a_correct_key_from_the_throttled_address_still_works(org, settings):
    _, raw = ApiKeyFactory.create_with_raw(organization=org, role="viewer")
    for n in range(settings.API_KEY_FAILURE_LIMIT + 5):
        _get(f"Api-Key sy_wrong{n}")
    assert _get("Api-Key sy_wrong-again").status_code == 429

    assert _get(f"Api-Key {raw}").status_code == 200


def test_other_addresses_are_not_throttled(settings):
    for n in range(settings.API_KEY_FAILURE_LIMIT + 1):
        _get(f"Api-Key sy_wrong{n}")
    assert _get("Api-Key sy_wrong", address=ADDRESS).status_code == 429
    assert _get("Api-Key sy_wrong", address="198.51.100.9").status_code == 401


def test_the_window_ends(settings, monkeypatch):
    settings.API_KEY_FAILURE_LIMIT = 2
    # a fresh address: no count left in this window by an earlier run
    address = f"2001:db8::{secrets.randbelow(0xFFFF):x}:{secrets.randbelow(0xFFFF):x}"
    now = [1_000_000.0]
    monkeypatch.setattr(throttling.time, "time", lambda: now[0])
    assert [_get("Api-Key sy_x", address).status_code for _ in range(3)] == [401, 401, 429]
    now[0] += settings.API_KEY_FAILURE_WINDOW_SECONDS
    assert _get("Api-Key sy_x", address).status_code == 401
