"""Reads of event sources and received events, always within one organization (another's is a 404)."""

from __future__ import annotations

from django.db.models import QuerySet

from accounts.models import Organization
from config.errors import NotFound

from .models import EventSource, InboundEvent


def event_source_list(*, organization: Organization) -> QuerySet[EventSource]:
    return EventSource.objects.filter(organization=organization)


def event_source_get(*, organization: Organization, source_id: str | int) -> EventSource:
    source = event_source_list(organization=organization).filter(pk=_pk(source_id)).first()
    if source is None:
        raise NotFound("Event source not found.")
    return source


def inbound_event_list(*, organization: Organization) -> QuerySet[InboundEvent]:
    return InboundEvent.objects.filter(organization=organization)


def inbound_event_get(*, organization: Organization, event_id: str | int) -> InboundEvent:
    event = inbound_event_list(organization=organization).filter(pk=_pk(event_id)).first()
    if event is None:
        raise NotFound("Event not found.")
    return event


def _pk(value: str | int) -> int:
    try:
        pk = int(value)
    except (TypeError, ValueError):
        return 0
    return pk if 0 < pk < 2**63 else 0
