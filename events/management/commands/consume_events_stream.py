"""`manage.py consume_events_stream`: consume EVENTS_REDIS_STREAM (events/stream.py) until stopped.

Run it as one more process (one or several: they share the consumer group) where the organization's services
publish events to Redis; it exits at once when EVENTS_REDIS_STREAM is not set.
"""

from __future__ import annotations

import signal
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from events.stream import EventStream

BLOCK_MS = 5000
FAILURE_PAUSE_SECONDS = 5


class Command(BaseCommand):
    help = "Consume events from the Redis stream EVENTS_REDIS_STREAM (the same handlers as POST /api/events/)."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="Read one batch (waiting for none) and exit.")

    def handle(self, *args, **options):
        if not settings.EVENTS_REDIS_STREAM or not settings.REDIS_URL:
            raise CommandError("Set EVENTS_REDIS_STREAM and REDIS_URL to consume events from a Redis stream.")
        stream = EventStream.from_settings()
        stream.ensure_group()
        stopping = []
        signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
        self.stdout.write(f"Consuming {settings.EVENTS_REDIS_STREAM} as {stream.consumer} "
                          f"(group {settings.EVENTS_REDIS_GROUP}).")
        while not stopping:
            run = stream.run_once(block_ms=None if options["once"] else BLOCK_MS)
            if run.stored or run.duplicates or run.rejected or run.failed:
                self.stdout.write(f"stored {len(run.stored)}, duplicates {len(run.duplicates)}, "
                                  f"rejected {len(run.rejected)}, failed {len(run.failed)}")
            if options["once"]:
                return
            if run.failed:
                time.sleep(FAILURE_PAUSE_SECONDS)  # the database is likely down: do not spin on the same entries
