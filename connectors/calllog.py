"""The IntegrationLog row each provider call attempt leaves: redacted, truncated, never fatal.

One row per HTTP attempt, not per call: a call retried twice leaves three rows
sharing `metadata.call_id`, each with its own status, duration and what the
client decided next (`metadata.outcome`: ok, retry, refresh, error), which is
what an operator needs to see why a sync was slow or failed.

What can go wrong: writing the row fails (the database is down, or the caller
is inside a broken transaction). The call's outcome matters more than its log
line, so the failure is logged and swallowed; a POST that succeeded must not
look failed, and be sent again, because its log row could not be written.

Bulk pulls (a sync walking a provider's pages) are summarised: inside
`bulk_pull()` a successful attempt's row keeps its status, latency, redacted
headers and the body's size, not the body, and is written once the page is
parsed so that it can say how many records the page carried
(`metadata.records`), together with any other row the page needed, in one
insert. Redacting and truncating a 250-order body per page was a tenth of a
backfill's time and told an operator nothing the counts do not. Failed
attempts keep their bodies (that is what gets debugged), and an integration
with `config["debug_logging"]` on keeps every body, pulls included.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from collections.abc import Iterator
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

import requests
from django.conf import settings
from django.db import DatabaseError, connections, router, transaction

from integrations.models import IntegrationLog

from .redaction import Redactor, pruned, truncated

if TYPE_CHECKING:
    from integrations.models import Integration

logger = logging.getLogger(__name__)

# SQLite has one writer at a time; an in-memory shared-cache database (the test default) fails a second
# concurrent writer at once ("table is locked") instead of waiting. Threads of one process take turns here.
_sqlite_writes = threading.Lock()

_TEXT_TYPES = ("json", "text", "xml", "x-www-form-urlencoded", "javascript", "html")


def request_record(redactor: Redactor, *, headers: dict[str, Any], json_body: Any, data: Any) -> dict[str, Any]:
    limit = settings.INTEGRATION_LOG_BODY_LIMIT
    record: dict[str, Any] = {"headers": redactor.headers(headers)}
    if json_body is not None:
        record["json"] = truncated(redactor.data(json_body), limit)
    elif data is not None:
        record["data"] = truncated(redactor.data(data if not isinstance(data, bytes) else _decode(data)), limit)
    return record


def response_record(redactor: Redactor, response: requests.Response) -> dict[str, Any]:
    limit = settings.INTEGRATION_LOG_BODY_LIMIT
    content_type = response.headers.get("Content-Type", "")
    record: dict[str, Any] = {"headers": redactor.headers(response.headers)}
    body = response.content or b""
    if not body:
        return record
    if "json" in content_type:
        try:
            # Keep twice the limit before redacting: redaction shortens values, and the head must still fill `limit`.
            head, cut = pruned(json.loads(body), 2 * limit)
            record["json"] = truncated(redactor.data(head, request=False), limit, size=len(body) if cut else None)
            return record
        except ValueError:
            pass
    if any(kind in content_type for kind in _TEXT_TYPES) or not content_type:
        cut = len(body) > 2 * limit  # as above: redact a head of twice the limit, not the whole body
        text = redactor.text(_decode(body[: 2 * limit] if cut else body))
        record["text"] = truncated(text, limit, size=len(body) if cut else None)
    else:
        record["text"] = f"<{len(body)} bytes of {content_type}>"
    return record


def summary_record(redactor: Redactor, response: requests.Response) -> dict[str, Any]:
    """A bulk pull's response without its body: the redacted headers and how big the body was."""
    return {"headers": redactor.headers(response.headers), "body_bytes": len(response.content or b""),
            "body_kept": False}


def _decode(body: bytes) -> str:
    return body.decode("utf-8", errors="replace")


def debug_logging(integration: Integration) -> bool:
    """Whether the integration keeps every response body, bulk pulls included (`config["debug_logging"]`)."""
    return bool((integration.config or {}).get("debug_logging"))


class PullLog:
    """The rows of one page of a bulk pull, held until the page is parsed (see the module docstring)."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def add(self, row: dict[str, Any]) -> None:
        self.rows.append(row)

    def flush(self, *, records: int | None) -> None:
        """Write the held rows in one insert; the last one (the call that brought the page) gets `records`."""
        rows, self.rows = self.rows, []
        if not rows:
            return
        for row in rows:
            row["metadata"]["summary"] = True
        if records is not None:
            rows[-1]["metadata"]["records"] = records
        _write(rows)


_current_pull: ContextVar[PullLog | None] = ContextVar("connectors_bulk_pull", default=None)


def current_pull() -> PullLog | None:
    """The bulk pull this thread is fetching a page of, if any."""
    return _current_pull.get()


@contextlib.contextmanager
def bulk_pull() -> Iterator[PullLog]:
    """Summarise the successful calls made in this block (one page of a sync); the caller flushes with the count."""
    log = PullLog()
    token = _current_pull.set(log)
    try:
        yield log
    finally:
        _current_pull.reset(token)


def write_call_log(
    integration: Integration,
    *,
    action: str,
    method: str,
    endpoint: str,
    request: dict[str, Any],
    response: dict[str, Any] | None,
    status_code: int | None,
    duration_ms: int | None,
    error_message: str,
    metadata: dict[str, Any],
    summarise: bool = False,
) -> None:
    """Write the row now, or, with `summarise` inside a bulk pull, hold it for the page's one insert."""
    row = {
        "integration_id": integration.pk, "organization_id": integration.organization_id, "action": action[:64],
        "method": method[:8], "endpoint": endpoint[:1000], "request": request, "response": response or {},
        "status_code": status_code, "duration_ms": duration_ms, "error_message": error_message,
        "metadata": metadata,
    }
    pull = current_pull() if summarise else None
    if pull is not None:
        pull.add(row)
    else:
        _write([row])


def _write(rows: list[dict[str, Any]]) -> None:
    alias = router.db_for_write(IntegrationLog)
    serialize = _sqlite_writes if connections[alias].vendor == "sqlite" else contextlib.nullcontext()
    try:
        with serialize, transaction.atomic(using=alias):  # a savepoint inside a caller's transaction
            if len(rows) == 1:
                IntegrationLog.objects.using(alias).create(**rows[0])
            else:
                IntegrationLog.objects.using(alias).bulk_create([IntegrationLog(**row) for row in rows])
    except DatabaseError as exc:
        first = rows[0]
        logger.warning("IntegrationLog row for %s %s not written: %s: %s", first["action"], first["method"],
                       type(exc).__name__, exc)
