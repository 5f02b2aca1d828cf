"""What each published event means to a notification rule: a condition opened or cleared, or a one-off.

`reading(event_type, payload)` turns one event into `Reading`s: the trigger kind a rule subscribes to, what to do
(`open` a condition, `clear` it, or send `info` once), the condition's key, and the words of the message.
Conditions the events cannot clear (an endpoint switched back on, stock back above its threshold, an order
fulfilled) and the one no event opens (an order unfulfilled too long) are checked by checks.py on beat's clock.

Event names are the webhook catalog's (webhooks/events.py); `integration.error` with status `pending_auth` is
the "needs re-authorization" trigger.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from .models import TriggerKind

OPEN, CLEAR, INFO = "open", "clear", "info"

# The events this app hears (integrations/events.py calls the subscriber only for these).
EVENT_TYPES = frozenset({
    "integration.error", "integration.synced", "integration.connected", "sync_job.failed", "webhook.failed",
    "webhook.delivered", "endpoint.disabled", "inventory.low_stock", "ads.suggestions_ready",
})


@dataclass(frozen=True)
class Reading:
    trigger: str
    action: str
    key: str
    title: str = ""
    text: str = ""
    facts: tuple[tuple[str, str], ...] = ()
    link: str = ""
    subject: dict[str, Any] = field(default_factory=dict)


def console_url(path: str) -> str:
    return f"{settings.PUBLIC_BASE_URL.rstrip('/')}/admin/{path.lstrip('/')}"


def _integration(payload: dict[str, Any]) -> dict[str, Any]:
    value = payload.get("integration")
    return value if isinstance(value, dict) else {}


def _named(integration: dict[str, Any]) -> str:
    return f"{integration.get('name') or integration.get('code')} ({integration.get('code')})"


def _integration_link(integration: dict[str, Any]) -> str:
    return console_url(f"integrations/integration/{integration.get('id')}/change/") if integration.get("id") else ""


def reading(event_type: str, payload: dict[str, Any]) -> list[Reading]:
    integration = _integration(payload)
    iid, named, link = integration.get("id"), _named(integration), _integration_link(integration)
    if event_type == "integration.error":
        if payload.get("status") == "pending_auth":
            return [Reading(TriggerKind.INTEGRATION_REAUTH, OPEN, f"integration:{iid}:reauth",
                            f"{named} needs to be connected again",
                            str(payload.get("error") or "The provider refused the refresh token."),
                            (("Integration", named),), link, {"integration": integration})]
        return [Reading(TriggerKind.INTEGRATION_ERROR, OPEN, f"integration:{iid}:error", f"{named} is in error",
                        str(payload.get("error") or ""), (("Integration", named),), link,
                        {"integration": integration})]
    if event_type in ("integration.synced", "integration.connected"):
        found = [Reading(TriggerKind.INTEGRATION_ERROR, CLEAR, f"integration:{iid}:error")]
        if event_type == "integration.connected":
            found.append(Reading(TriggerKind.INTEGRATION_REAUTH, CLEAR, f"integration:{iid}:reauth"))
        job = payload.get("sync_job") if isinstance(payload.get("sync_job"), dict) else {}
        if job.get("job_type"):
            found.append(Reading(TriggerKind.SYNC_FAILED, CLEAR, f"sync:{iid}:{job['job_type']}"))
        return found
    if event_type == "sync_job.failed":
        job = payload.get("sync_job") if isinstance(payload.get("sync_job"), dict) else {}
        job_type = str(job.get("job_type") or "")
        return [Reading(TriggerKind.SYNC_FAILED, OPEN, f"sync:{iid}:{job_type}",
                        f"{job_type.replace('_', ' ').capitalize()} failed for {named}", str(job.get("error") or ""),
                        (("Integration", named), ("Job", f"#{job.get('id')} {job_type}")), link,
                        {"integration": integration, "job_type": job_type})]
    if event_type == "webhook.failed":
        webhook = payload.get("incoming_webhook") if isinstance(payload.get("incoming_webhook"), dict) else {}
        return [Reading(TriggerKind.WEBHOOK_FAILED, OPEN, f"webhooks:{iid}",
                        f"Incoming webhooks are failing for {named}", str(webhook.get("error") or ""),
                        (("Integration", named), ("Webhook", f"#{webhook.get('id')} {webhook.get('event_type')}")),
                        console_url(f"webhooks/incomingwebhook/{webhook.get('id')}/change/"),
                        {"integration": integration})]
    if event_type == "webhook.delivered":
        return [Reading(TriggerKind.WEBHOOK_FAILED, CLEAR, f"webhooks:{iid}")]
    if event_type == "endpoint.disabled":
        endpoint = payload.get("endpoint") if isinstance(payload.get("endpoint"), dict) else {}
        return [Reading(TriggerKind.ENDPOINT_DISABLED, OPEN, f"endpoint:{endpoint.get('id')}",
                        f"Webhook endpoint {endpoint.get('url')} was disabled", str(payload.get("reason") or ""),
                        (("Endpoint", f"#{endpoint.get('id')}"),),
                        console_url(f"webhooks/webhookendpoint/{endpoint.get('id')}/change/"),
                        {"endpoint": endpoint})]
    if event_type == "inventory.low_stock":
        product = payload.get("product") if isinstance(payload.get("product"), dict) else {}
        location = str(payload.get("location") or "")
        return [Reading(TriggerKind.LOW_STOCK, OPEN, f"stock:{product.get('id')}:{location}",
                        f"Low stock: {product.get('sku')} at {location}",
                        f"{payload.get('available', payload.get('on_hand'))} available, threshold "
                        f"{payload.get('low_stock_threshold')}.",
                        (("SKU", str(product.get("sku"))), ("Location", location)), "",
                        {"product": product, "location": location})]
    if event_type == "ads.suggestions_ready":
        account = payload.get("ad_account") if isinstance(payload.get("ad_account"), dict) else {}
        run = payload.get("run") if isinstance(payload.get("run"), dict) else {}
        about = account.get("name") if account else f"{run.get('kind', 'the')} analysis #{run.get('id')}"
        key = f"ads:{account.get('id')}" if account else f"analysis:{run.get('id')}"
        return [Reading(TriggerKind.AI_SUGGESTIONS, INFO, key,
                        f"{payload.get('suggestions', 'New')} AI suggestions ready for {about}",
                        "Review them in the console before anything changes.", (("Integration", named),), link)]
    return []

