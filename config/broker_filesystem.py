"""The embedded broker: kombu's filesystem transport, with every message whole before any worker can take it.

kombu writes a message straight under its final name (open, lock, write), while
a consumer takes any file with that name without looking at the lock (move,
read): a worker that polls in between reads an empty file, its consumer dies
of the JSON error ("Unrecoverable error: JSONDecodeError"), and the message is
gone (kombu issue #1551). Polling every few milliseconds (settings:
CELERY_BROKER_POLLING_INTERVAL) under a burst of publishes hits that window
within seconds.

Here a message is written under a name no consumer takes (a leading dot: the
transport only takes `<anything>.<queue>.msg`), then renamed to its final name.
A rename within one folder is atomic, so a consumer finds the whole message or
nothing. Names, order and folders are kombu's, so a worker of either kind
reads the other's messages.
"""

from __future__ import annotations

import os
import uuid
from contextlib import suppress
from time import monotonic

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps


class Channel(filesystem.Channel):
    def _put(self, queue, payload, **kwargs):
        """Put `payload` onto `queue`: written in full under a hidden name, then renamed into the queue."""
        filename = f"{int(round(monotonic() * 1000))}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, filename)
        partial = os.path.join(self.data_folder_out, f".partial-{filename}")
        try:
            with open(partial, "wb", buffering=0) as file:
                file.write(str_to_bytes(dumps(payload)))
            os.rename(partial, final)
        except OSError as exc:
            with suppress(OSError):
                os.remove(partial)
            raise ChannelError(f"Cannot add file {final!r} to directory") from exc

    def queue_bind(self, queue, exchange=None, routing_key="", arguments=None, **kwargs):
        """Write the binding into the exchange's table before this process's broker state records it.

        kombu's filesystem transport keeps one broker state per process, shared by every connection, and records
        a binding there first: a second connection (another web thread, the worker's publisher) then skips the
        bind as done and publishes while the table is still without it, and the message is routed nowhere and
        silently dropped. Writing first is safe because the write is idempotent.
        """
        exchange = exchange or "amq.direct"
        meta = self.typeof(exchange).prepare_bind(queue, exchange, routing_key, arguments)
        self._queue_bind(exchange, *meta)
        super().queue_bind(queue, exchange, routing_key, arguments, **kwargs)

    def _queue_bind(self, exchange, routing_key, pattern, queue):
        """Add a binding to the exchange's table: the same table kombu keeps, replaced whole by a rename.

        kombu truncates the table file before it takes the file's lock, so a process declaring a queue while
        another publishes could hand the publisher an empty table (the same JSONDecodeError, on the publishing
        side). Binders take turns on a lock file beside the table; readers only ever open a whole table.
        """
        file = self._exchange_file(exchange)
        self.control_folder.mkdir(exist_ok=True)
        binding = filesystem.exchange_queue_t(routing_key or "", pattern or "", queue or "")
        try:
            with open(f"{file}.lock", "a+b") as turn:
                filesystem.lock(turn, filesystem.LOCK_EX)
                try:
                    table = self.get_table(exchange)
                    if binding in table:
                        return
                    partial = file.with_name(f".partial-{uuid.uuid4()}-{file.name}")
                    with open(partial, "wb", buffering=0) as out:
                        out.write(str_to_bytes(dumps([binding, *table])))
                    os.replace(partial, file)
                finally:
                    filesystem.unlock(turn)
        except OSError as exc:
            raise ChannelError(f"Cannot open {file}") from exc


class Transport(filesystem.Transport):
    Channel = Channel
