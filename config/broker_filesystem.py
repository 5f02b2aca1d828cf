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


class Transport(filesystem.Transport):
    Channel = Channel
