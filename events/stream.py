"""Consumed events from a Redis stream (EVENTS_REDIS_STREAM): the same check, store and handlers as the HTTP intake.

For services that already publish to Redis rather than call us. An entry
carries what `POST /api/events/` receives: `source` (the event source's key,
`evs_…`), `body` (the event's JSON bytes) and the Standard Webhooks fields
`webhook-id`, `webhook-timestamp`, `webhook-signature`, signed with the
source's secret. Each entry goes through `event_receive` — signature, envelope,
the InboundEvent row, and its unique (source, webhook-id) — so an event sent
twice, by HTTP and by the stream or twice on the stream, is stored and handled
once.

Nothing is acknowledged that is not stored: XACK follows the row's commit. An
entry whose storing failed (database down) stays pending in the group and is
read again; an entry that can never be stored (a bad signature, not an event)
is copied to `<stream>:rejected` with its reason and acknowledged, so it does
not block the group. Entries another consumer took and left unacknowledged for
CLAIM_IDLE_MS (it died) are claimed (XAUTOCLAIM). The signed timestamp may be
as old as EVENTS_REDIS_STREAM_MAX_AGE_SECONDS: a stream keeps entries while its
consumers are down, which a five-minute HTTP window would turn into losses.
"""

from __future__ import annotations

import logging
import os
import socket
from dataclasses import dataclass, field

import redis
from django.conf import settings

from config.errors import InvalidSignature, ValidationError

from .intake import event_receive

logger = logging.getLogger(__name__)

CLAIM_IDLE_MS = 60_000
BATCH = 100
SIGNATURE_FIELDS = ("webhook-id", "webhook-timestamp", "webhook-signature")


@dataclass
class StreamRun:
    stored: list[str] = field(default_factory=list)  # stream entry ids whose event was stored now
    duplicates: list[str] = field(default_factory=list)  # already stored (a redelivery): acknowledged
    rejected: list[str] = field(default_factory=list)  # never storable: moved to <stream>:rejected
    failed: list[str] = field(default_factory=list)  # not stored (try again): left pending


class EventStream:
    """One consumer of the group: `run_once` claims, reads and stores a batch; the command loops over it."""

    def __init__(self, client: redis.Redis, *, stream: str, group: str, consumer: str | None = None):
        self.client, self.stream, self.group = client, stream, group
        self.consumer = consumer or f"{socket.gethostname()}-{os.getpid()}"

    @classmethod
    def from_settings(cls) -> EventStream:
        return cls(redis.Redis.from_url(settings.REDIS_URL), stream=settings.EVENTS_REDIS_STREAM,
                   group=settings.EVENTS_REDIS_GROUP)

    def ensure_group(self) -> None:
        """The consumer group, reading the stream from its start (made with the stream if there is none yet)."""
        try:
            self.client.xgroup_create(self.stream, self.group, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    def run_once(self, *, block_ms: int | None = None) -> StreamRun:
        """Store what a dead consumer left, what this one left (a failed store), then new entries."""
        run = StreamRun()
        claimed = self.client.xautoclaim(self.stream, self.group, self.consumer, min_idle_time=CLAIM_IDLE_MS,
                                         start_id="0-0", count=BATCH)[1]
        mine = self._read("0")  # delivered to this consumer, not acknowledged
        entries = claimed + mine
        if not entries:
            entries = self._read(">", block_ms=block_ms)
        seen: set[str] = set()
        for entry_id, fields in entries:
            key = entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)
            if key not in seen:
                seen.add(key)
                self._handle(key, fields or {}, run)
        return run

    def _read(self, start: str, *, block_ms: int | None = None) -> list:
        answer = self.client.xreadgroup(self.group, self.consumer, {self.stream: start}, count=BATCH,
                                        block=block_ms)
        return answer[0][1] if answer else []

    def _handle(self, entry_id: str, fields: dict, run: StreamRun) -> None:
        values = {(k.decode() if isinstance(k, bytes) else k): v for k, v in fields.items()}
        if not values:  # trimmed from the stream while pending: nothing left to store
            self.client.xack(self.stream, self.group, entry_id)
            return
        text = {name: _text(values.get(name)) for name in ("source", *SIGNATURE_FIELDS)}
        body = values.get("body") or b""
        body = body if isinstance(body, bytes) else str(body).encode()
        try:
            receipt = event_receive(source_key=text["source"], headers={n: text[n] for n in SIGNATURE_FIELDS},
                                    body=body, tolerance=settings.EVENTS_REDIS_STREAM_MAX_AGE_SECONDS)
        except (InvalidSignature, ValidationError) as exc:
            self.client.xadd(f"{self.stream}:rejected", {**values, "entry": entry_id, "reason": exc.code})
            self.client.xack(self.stream, self.group, entry_id)
            logger.warning("stream event %s rejected: %s", entry_id, exc.code)
            run.rejected.append(entry_id)
            return
        except Exception:  # noqa: BLE001 - not stored: leave it pending, the next round reads it again
            logger.exception("stream event %s not stored; it stays pending", entry_id)
            run.failed.append(entry_id)
            return
        self.client.xack(self.stream, self.group, entry_id)
        (run.stored if receipt.created else run.duplicates).append(entry_id)


def _text(value) -> str:
    if value is None:
        return ""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
