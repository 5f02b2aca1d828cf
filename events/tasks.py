"""Background work for consumed events. Tasks take ids, call a service, and are safe to run twice.

The InboundEvent rows are the queue of record: a message is only a nudge, and
`sweep_inbound_events` (beat, every 30 s; cron job `sweep-events`) re-queues
what a lost message or a dead worker left behind.
"""

from __future__ import annotations

from dataclasses import asdict

from celery import shared_task

from . import processing


@shared_task(ignore_result=True)
def process_inbound_event(event_id: int) -> str | None:
    """Process one stored event unless it is not due, finished, or another worker holds it."""
    return processing.event_process(event_id=event_id)


@shared_task(ignore_result=True)
def sweep_inbound_events() -> dict[str, int]:
    """Re-queue what a lost message or a dead worker left behind; returns the counts."""
    return asdict(processing.events_sweep())
