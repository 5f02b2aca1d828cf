"""The subscriber port of the one publisher (integrations/events.py): a subscriber hears its event types, from
`publish` and `publish_many`, in the publisher's transaction; with none, a batch stays lazy."""

from __future__ import annotations

import pytest

from integrations import events

pytestmark = pytest.mark.django_db


@pytest.fixture
def heard():
    got: list[tuple[str, dict]] = []
    events.events_subscriber_add("test", event_types={"order.created", "webhook.failed"},
                                 subscriber=lambda event_type, payload, org, integration: got.append((event_type,
                                                                                                     payload)))
    yield got
    events.events_subscriber_remove("test")


def test_a_subscriber_hears_only_its_types_from_both_publishers(org, heard):
    events.publish("order.created", {"n": 1}, org)
    events.publish("order.updated", {"n": 2}, org)
    events.publish_many([("order.updated", {"n": 3}), ("order.created", {"n": 4})], org)
    assert heard == [("order.created", {"n": 1}), ("order.created", {"n": 4})]


def test_a_failing_subscriber_fails_the_publish(org):
    def boom(*args):
        raise RuntimeError("subscriber failed")

    events.events_subscriber_add("boom", event_types={"order.created"}, subscriber=boom)
    try:
        with pytest.raises(RuntimeError):
            events.publish("order.created", {}, org)
    finally:
        events.events_subscriber_remove("boom")


def test_with_no_subscriber_a_batch_nobody_receives_is_never_built(org, monkeypatch):
    monkeypatch.setattr(events, "_subscribers", {})

    def batch():
        raise AssertionError("built")
        yield  # pragma: no cover

    assert events.publish_many(batch(), org) == []


def test_a_batch_of_types_no_subscriber_hears_is_never_built(org, heard):
    """A caller naming its batch's types (an imported page of orders) keeps it lazy while the subscribers hear
    other types; a type one of them hears makes the batch read, and heard."""

    def batch():
        raise AssertionError("built")
        yield  # pragma: no cover

    assert events.publish_many(batch(), org, event_types={"order.updated", "order.shipped"}) == []
    events.publish_many(iter([("order.updated", {"n": 1}), ("order.created", {"n": 2})]), org,
                        event_types={"order.updated", "order.created"})
    assert heard == [("order.created", {"n": 2})]
