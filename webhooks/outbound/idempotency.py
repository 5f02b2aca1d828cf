"""`Idempotency-Key` on create calls: the same key within 24 h answers the first result again.

The key is scoped to the organization and the call (`scope`). The first
successful answer is stored (encrypted: a create answer carries the secret
shown once) in the same transaction as what it created, so two concurrent
requests with one key create once: the second waits on the unique key, then
replays the first's answer. A key reused with a different body is refused with
409 IDEMPOTENCY_KEY_REUSED (the client has a bug; answering the first result
would hide it). Failed calls (4xx) are not stored: fixing the body and sending
the same key again is allowed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework import status

from accounts.models import Organization
from config.errors import ApplicationError, ValidationError

from ..models import IdempotencyKey

KEY_TTL = timedelta(hours=24)
MAX_KEY_LENGTH = 255


class IdempotencyKeyReused(ApplicationError):
    code = "IDEMPOTENCY_KEY_REUSED"
    http_status = status.HTTP_409_CONFLICT
    default_message = "This Idempotency-Key was already used with a different request body."


@dataclass(frozen=True)
class IdempotentAnswer:
    status: int
    body: Any
    replayed: bool


def request_digest(data: Any) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, separators=(",", ":"), default=str).encode()).hexdigest()


def _replay(stored: IdempotencyKey, digest: str) -> IdempotentAnswer:
    if stored.request_hash != digest:
        raise IdempotencyKeyReused(details={"idempotency_key": [stored.key]})
    return IdempotentAnswer(stored.response_status, json.loads(stored.response_body), replayed=True)


def idempotent_call(
    *,
    organization: Organization,
    scope: str,
    key: str | None,
    request_data: Any,
    call: Callable[[], tuple[int, Any]],
) -> IdempotentAnswer:
    """Run `call` (returning status and JSON body) once per key; replay its answer for the same key and body."""
    if key is None:
        code, body = call()
        return IdempotentAnswer(code, body, replayed=False)
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise ValidationError(details={"idempotency_key": [f"Give 1 to {MAX_KEY_LENGTH} printable characters."]})
    digest, now = request_digest(request_data), timezone.now()
    keys = IdempotencyKey.objects.filter(organization=organization, scope=scope, key=key)
    keys.filter(created_at__lt=now - KEY_TTL).delete()
    stored = keys.first()
    if stored is not None:
        return _replay(stored, digest)
    try:
        with transaction.atomic():
            code, body = call()
            if 200 <= code < 300:
                IdempotencyKey.objects.create(
                    organization=organization, scope=scope, key=key, request_hash=digest,
                    response_status=code, response_body=json.dumps(body), created_at=now,
                )
    except IntegrityError:
        stored = keys.first()
        if stored is None:
            raise
        return _replay(stored, digest)
    return IdempotentAnswer(code, body, replayed=False)
