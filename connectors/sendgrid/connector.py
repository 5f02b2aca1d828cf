"""Connector for SendGrid: notices by email (`POST /v3/mail/send`), bounces from its Signed Event Webhook.

Credentials: an API key (`SG.…`, with the Mail Send permission) in `api_key`; the Event Webhook's verification
key (base64 DER) in `webhook_secret`, its URL `/api/webhooks/receive/<route_key>/` in SendGrid's Mail Settings
with signing on. The sender is `config["from_email"]` (a verified sender in SendGrid; default DEFAULT_FROM_EMAIL).

A rule's target is a comma-separated list of addresses; each gets its own personalization (no recipient sees
the others). Addresses SendGrid reported as bounced, dropped, spam-reported or unsubscribed (EmailSuppression)
are left out; a notice whose every address is suppressed fails, naming why.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parseaddr
from typing import Any

from django.conf import settings
from django.utils.html import escape

from config.errors import ApplicationError, ValidationError
from connectors.base import AuthKind, ConnectionResult, Connector, RateLimitPolicy, WebhookEvent
from connectors.capabilities import NoticeMessage, Notifier, WebhookReceiver
from connectors.errors import connection_failure
from connectors.http import elapsed_ms

from . import webhooks
from .models import EmailSuppression

SUPPRESSING_EVENTS = frozenset({"bounce", "dropped", "spamreport", "unsubscribe", "group_unsubscribe"})


class SendGridConnector(WebhookReceiver, Notifier, Connector):
    key = "sendgrid"
    display_name = "SendGrid"
    integration_type = "email"
    auth_kind = AuthKind.API_KEY
    base_url = "https://api.sendgrid.com"
    webhook_scheme = webhooks.SCHEME
    webhook_resources = frozenset({webhooks.RESOURCE})
    rate_limit = RateLimitPolicy(requests=100, per_seconds=1.0)
    docs_url = "https://www.twilio.com/docs/sendgrid/api-reference/mail-send/mail-send"
    notice_target_help = "Comma-separated email addresses."

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.integration.api_key}"} if self.integration.api_key else {}

    def test_connection(self) -> ConnectionResult:
        """`GET /v3/scopes`: the key works and may send mail."""
        started = time.monotonic()
        try:
            scopes = self.http.get("/v3/scopes", action="get_scopes").json().get("scopes") or []
        except ApplicationError as exc:
            return ConnectionResult(ok=False, latency_ms=elapsed_ms(started),
                                    detail=f"{connection_failure('SendGrid', exc)}: {exc.message}")
        if "mail.send" not in scopes:
            return ConnectionResult(ok=False, latency_ms=elapsed_ms(started),
                                    detail="The SendGrid API key lacks the Mail Send permission (mail.send).")
        return ConnectionResult(ok=True, latency_ms=elapsed_ms(started), detail="SendGrid key can send mail.")

    # ------------------------------------------------------------------ notices
    def sender(self) -> dict[str, str]:
        configured = (self.integration.config or {}).get("from_email") if isinstance(self.integration.config,
                                                                                      dict) else ""
        name, address = parseaddr(str(configured or settings.DEFAULT_FROM_EMAIL))
        return {"email": address, **({"name": name} if name else {})}

    def send_notice(self, message: NoticeMessage, *, target: str) -> str:
        wanted = list(dict.fromkeys(a.strip().lower() for a in target.split(",") if a.strip()))
        suppressed = set(EmailSuppression.objects.filter(integration=self.integration, email__in=wanted)
                         .values_list("email", flat=True))
        recipients = [a for a in wanted if a not in suppressed]
        if not recipients:
            raise ValidationError("Every address of the rule is on SendGrid's suppression list (bounced or "
                                  "unsubscribed): " + ", ".join(sorted(suppressed)) if suppressed else
                                  "The rule names no address.", details={"target": sorted(suppressed)})
        body = {
            "personalizations": [{"to": [{"email": address}]} for address in recipients],
            "from": self.sender(),
            "subject": f"[Switchyard] {message.headline}"[:250],
            "content": [{"type": "text/plain", "value": message.as_text() or message.headline},
                        {"type": "text/html", "value": html(message)}],
        }
        response = self.http.post("/v3/mail/send", action="mail_send", json=body)
        return response.headers.get("X-Message-Id", "")

    # ------------------------------------------------------------------ the event webhook
    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> list[WebhookEvent]:
        return webhooks.parse(body)

    def handle_webhook_event(self, event: WebhookEvent) -> dict[str, Any] | None:
        """A suppressing event records its address (once per integration; the newest reason wins)."""
        if event.event_type not in SUPPRESSING_EVENTS:
            return None
        email = str(event.payload.get("email") or "").strip().lower()
        if not email:
            raise ValidationError("A SendGrid event without an email address.", details={"email": ["missing"]})
        stamp = event.payload.get("timestamp")
        occurred = datetime.fromtimestamp(int(stamp), tz=UTC) if str(stamp).isdigit() else None
        EmailSuppression.objects.update_or_create(
            integration=self.integration, email=email,
            defaults={"organization_id": self.integration.organization_id, "event": event.event_type,
                      "reason": str(event.payload.get("reason") or event.payload.get("response") or "")[:2000],
                      "sg_event_id": event.external_id[:100], "occurred_at": occurred})
        return {"suppressed": [email]}


def html(message: NoticeMessage) -> str:
    parts = [f"<h2>{escape(message.headline)}</h2>"]
    if message.text:
        parts.append(f"<p>{escape(message.text)}</p>")
    if message.facts:
        parts.append("<table>" + "".join(f"<tr><th align=left>{escape(k)}</th><td>{escape(v)}</td></tr>"
                                          for k, v in message.facts) + "</table>")
    if message.items:
        parts.append("<ul>" + "".join(f"<li><b>{escape(i.headline)}</b>{': ' + escape(i.text) if i.text else ''}"
                                      "</li>" for i in message.items) + "</ul>")
    if message.link:
        parts.append(f'<p><a href="{escape(message.link)}">Open in Switchyard</a></p>')
    return "".join(parts)
