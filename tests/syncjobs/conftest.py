from __future__ import annotations

import pytest

from tests.factories import IntegrationFactory
from tests.syncjobs import fakes


@pytest.fixture
def shop():
    """A fresh fake provider, registered as `fakeshop` for the test."""
    fakes.SHOP = fakes.FakeShop()
    fakes.install()
    yield fakes.SHOP
    fakes.uninstall()


@pytest.fixture
def writer():
    return fakes.FakeWriter()


@pytest.fixture
def integration(org, shop):
    return IntegrationFactory(organization=org, provider="fakeshop", code="fake-shop")


@pytest.fixture(autouse=True)
def enqueued(monkeypatch):
    """Jobs are run by the tests themselves; record what would have been enqueued instead of sending it."""
    sent: list[int] = []
    monkeypatch.setattr("syncjobs.services.enqueue_job", sent.append)
    return sent
