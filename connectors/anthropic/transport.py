"""The SDK's HTTP, sent through the one HTTP client (connectors/http.py).

The official `anthropic` SDK talks HTTP through an httpx2 client; we hand it one whose transport gives every
request to `ProviderClient.request`, so an SDK call gets what every provider call gets: the integration's rate
limiter, the retry policy (429, and Anthropic's 529 "overloaded", which the connector calls a throttle; backoff
with full jitter, `retry-after` obeyed), timeouts, outbound URL checks and one redacted IntegrationLog row per
attempt. The SDK's own retries are off (max_retries=0), so nothing is retried twice over; an error the client
raises reaches the SDK as a transport failure and is unwrapped by the connector (`sdk_errors`).

Why the SDK and not a hand-written Messages call: it owns the request shapes, headers (anthropic-version),
pagination of /v1/models and the typed answer (tool_use blocks, usage), and moves with the API; the policy and
the log stay ours because the bytes still go through connectors/http.py.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import httpx2

if TYPE_CHECKING:
    from connectors.http import ProviderClient

# Hop-by-hop or recomputed by `requests`; the key comes from the connector's auth_headers.
_DROPPED_REQUEST_HEADERS = frozenset({"host", "content-length", "connection", "accept-encoding", "x-api-key",
                                      "authorization", "transfer-encoding"})
_DROPPED_RESPONSE_HEADERS = frozenset({"content-encoding", "content-length", "transfer-encoding", "connection"})


class PolicyTransport(httpx2.BaseTransport):
    def __init__(self, http: ProviderClient, *, action: str, timeout: tuple[float, float]):
        self.http, self.action, self.timeout = http, action, timeout

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        body = request.read()
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _DROPPED_REQUEST_HEADERS}
        payload = json.loads(body) if body else None
        url = str(request.url)
        response = self.http.request(request.method, url, action=self.action, json=payload, headers=headers,
                                     timeout=self.timeout)
        kept = [(k, v) for k, v in response.headers.items() if k.lower() not in _DROPPED_RESPONSE_HEADERS]
        return httpx2.Response(response.status_code, headers=kept, content=response.content, request=request)
