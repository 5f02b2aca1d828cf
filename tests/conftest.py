"""Shared test setup: no network but loopback, real servers only when their URL is set."""

from __future__ import annotations

import ipaddress
import os
import socket

import pytest
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from rest_framework.test import APIClient

from tests.factories import ApiKeyFactory, OrganizationFactory

# Hypothesis by default fails an example that takes over 200 ms and a strategy that generates slowly: both are
# the machine's load, not the code (CI shares two cores). Fixed examples, as the other property tests here use, so a
# failure is one every run sees; and no example database left in the checkout.
hypothesis_settings.register_profile("switchyard", deadline=None, derandomize=True, database=None,
                                     suppress_health_check=[HealthCheck.too_slow])
hypothesis_settings.load_profile("switchyard")

# The incoming-webhook tests share their fixtures (shop, nudges, eager) from one module.
pytest_plugins = ["tests.webhooks.inbound_support"]

_real_connect = socket.socket.connect


def _loopback_only(self, address):
    host = address[0] if isinstance(address, tuple) else None
    if host is not None and self.family in (socket.AF_INET, socket.AF_INET6):
        try:
            allowed = ipaddress.ip_address(host).is_loopback
        except ValueError:
            allowed = host == "localhost"
        if not allowed:
            raise ConnectionRefusedError(f"tests may not reach {host}: only loopback is allowed")
    return _real_connect(self, address)


@pytest.fixture(autouse=True, scope="session")
def _block_network():
    socket.socket.connect = _loopback_only
    yield
    socket.socket.connect = _real_connect


@pytest.fixture(autouse=True)
def _broker_breaker_closed():
    """Each test starts with the publish circuit breaker closed: one test's dead broker is not the next one's."""
    from config.broker import breaker

    breaker.reset()
    yield
    breaker.reset()


@pytest.fixture(autouse=True)
def _no_key_ring_reports(settings):
    """Web processes report their key ring on a request once a minute (integrations/key_ring_reports.py); in
    tests that write would land in whichever request came first, a query count included. Tests of it turn it on."""
    settings.KEY_RING_REPORT_SECONDS = 0


@pytest.fixture(autouse=True)
def _incoming_nudges_in_the_request(settings):
    """Web processes batch processing messages on a thread (config/broker.py BatchedNudges); tests see each sent
    in its request after commit, and start with no integration cached by route key. Tests of either turn it on."""
    from webhooks.inbound import route_cache

    settings.WEBHOOK_INCOMING_NUDGE_BATCH_SECONDS = 0
    route_cache.forget()
    yield
    route_cache.forget()


def _on_postgres() -> bool:
    return os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://"))


def pytest_collection_modifyitems(config, items):
    skip_pg = pytest.mark.skip(reason="needs PostgreSQL: set DATABASE_URL=postgres://…")
    skip_redis = pytest.mark.skip(reason="needs Redis: set REDIS_URL=redis://…")
    for item in items:
        if "postgres" in item.keywords and not _on_postgres():
            item.add_marker(skip_pg)
        if "redis" in item.keywords and not os.environ.get("REDIS_URL"):
            item.add_marker(skip_redis)


@pytest.fixture(autouse=True)
def _fresh_api_key_failure_count():
    """Tests sending wrong keys from the test client's address must not throttle the tests after them."""
    from accounts.throttling import failures_forget

    failures_forget("127.0.0.1")


@pytest.fixture
def provider_settings(settings):
    """`provider_settings("ebay", RU_NAME="…")`: a provider's app-wide settings for one test (PROVIDER_SETTINGS)."""
    settings.PROVIDER_SETTINGS = {}

    def configure(key: str, **values: str) -> None:
        current = settings.PROVIDER_SETTINGS
        settings.PROVIDER_SETTINGS = {**current, key: {**current.get(key, {}), **values}}

    return configure


@pytest.fixture
def org(db):
    return OrganizationFactory()


@pytest.fixture
def other_org(db):
    return OrganizationFactory()


def _client_for(organization, role):
    _, raw = ApiKeyFactory.create_with_raw(organization=organization, role=role)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    return client


@pytest.fixture
def api_client_for():
    """`api_client_for(org, "viewer")` → an APIClient carrying a fresh key of that role."""
    return _client_for


@pytest.fixture
def admin_api(org):
    return _client_for(org, "admin")


@pytest.fixture
def viewer_api(org):
    return _client_for(org, "viewer")


@pytest.fixture
def operator_api(org):
    return _client_for(org, "operator")
