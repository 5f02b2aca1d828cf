"""Events as the organization's services send them: signed with the Standard Webhooks reference library."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

from rest_framework.test import APIClient
from standardwebhooks.webhooks import Webhook


def signed(secret: str, payload: dict, *, msg_id: str | None = None,
           at: datetime | None = None) -> tuple[bytes, dict[str, str]]:
    """Body and headers as a Standard Webhooks sender (the reference library) makes them."""
    return signed_text(secret, json.dumps(payload), msg_id=msg_id, at=at)


def signed_text(secret: str, body: str, *, msg_id: str | None = None,
                at: datetime | None = None) -> tuple[bytes, dict[str, str]]:
    msg_id = msg_id or f"msg_{uuid.uuid4().hex}"
    at = at or datetime.now(tz=UTC)
    signature = Webhook(secret).sign(msg_id, at, body)
    return body.encode(), {"webhook-id": msg_id, "webhook-timestamp": str(int(at.timestamp())),
                           "webhook-signature": signature}


def send(source_key: str, body: bytes, headers: dict[str, str]):
    return APIClient().post(f"/api/events/?source={source_key}", data=body, content_type="application/json",
                            headers=headers, REMOTE_ADDR="203.0.113.9")


def stale(minutes: int = 10) -> datetime:
    return datetime.now(tz=UTC) - timedelta(minutes=minutes)
