"""What the connector tests share: recorded provider answers, replaying them, signing deliveries, reading calls.

A recorded answer is `tests/fixtures/<provider>/<resource>__<case>.json`, `{"status", "headers", "body"}` as
the provider answers (a webhook delivery: `{"secret", "headers", "body"}` with the raw body as signed). A test
module binds its provider once, `recorded = Recorded("shopify")`, then `recorded("orders__page1")` reads one
and `recorded.replay("GET", url, "orders__page1")` answers a call with it (`responses`). The fixtures every
connector test uses (`sleeps`, `public_dns`) are in conftest.py; fake connectors in http_fakes.py.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import responses

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def fixture(provider: str, name: str) -> dict:
    """`tests/fixtures/<provider>/<name>.json`, parsed."""
    return json.loads((FIXTURES / provider / f"{name}.json").read_text())


class Recorded:
    """One provider's recorded answers."""

    def __init__(self, provider: str):
        self.provider = provider

    def __call__(self, name: str) -> dict:
        return fixture(self.provider, name)

    def replay(self, method: str, url: str, name: str, **match: Any) -> responses.BaseResponse:
        """Answer `method url` with the recorded answer (its status, headers and body; an empty body when null)."""
        recorded = self(name)
        headers = {k: v for k, v in (recorded.get("headers") or {}).items() if k.lower() != "content-type"}
        if recorded["body"] is None:
            return responses.add(method, url, body=b"", status=recorded["status"], headers=headers, **match)
        return responses.add(method, url, json=recorded["body"], status=recorded["status"], headers=headers, **match)


def sent_json(call) -> Any:
    """The JSON body a recorded `responses` call sent."""
    return json.loads(call.request.body)


def sent_query(call) -> dict[str, str]:
    """The query parameters a recorded `responses` call sent (first value of each)."""
    return {k: v[0] for k, v in parse_qs(urlsplit(call.request.url).query).items()}


def hmac_base64(secret: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def hmac_hex(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
