"""Helpers for the outbound webhook tests: a real HTTP receiver on 127.0.0.1 and endpoint factories.

`Receiver` is a ThreadingHTTPServer in a thread. `receiver.respond` decides each
answer: a status, (status, headers), or HANG to hold the request open until the
receiver stops. Every request is kept in `receiver.requests` with its arrival time.
"""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from webhooks.outbound.endpoints import endpoint_create

HANG = object()


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float = field(default_factory=time.monotonic)


class Receiver:
    def __init__(self, respond=200, *, port: int = 0):
        self.respond = respond
        self.requests: list[Received] = []
        self.stopping = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.requests.append(Received(self.path, dict(self.headers.items()), body))
                answer = receiver.respond(receiver) if callable(receiver.respond) else receiver.respond
                if answer is HANG:
                    receiver.stopping.wait(30)
                    return
                status, headers = answer if isinstance(answer, tuple) else (answer, {})
                payload = b'{"ok": true}'
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stopping.set()
        self.server.shutdown()
        self.server.server_close()


def free_port() -> int:
    """A port nothing listens on (for a receiver that is down), free to bind later."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def make_endpoint(organization, url: str, events=("*",), **kwargs):
    """An endpoint through the service (as the API makes them); returns (endpoint, secret)."""
    return endpoint_create(organization=organization, url=url, events=list(events), **kwargs)
