"""Fixtures for the consumed-events tests: a source of the test organization, and the nudges sent."""

from __future__ import annotations

import pytest

from events.sources import event_source_create
from events.tasks import process_inbound_event


@pytest.fixture
def source(org):
    """(source, secret) of the test organization."""
    return event_source_create(organization=org, name="user-service")


@pytest.fixture
def nudges(monkeypatch):
    """The processing messages sent, as event ids (nothing reaches a broker)."""
    sent: list[int] = []
    monkeypatch.setattr(process_inbound_event, "apply_async", lambda args, **options: sent.append(args[0]))
    return sent
