"""The receive endpoints providers call: plain Django views, no session, no CSRF, no DRF parsing.

They read the raw body themselves, refusing it by its Content-Length before
reading when it is over WEBHOOK_MAX_BODY_BYTES (and never reading more than one
byte past the cap), because a signature is over the exact bytes and a parser
must not see a body we have not verified. Errors are the one envelope; a
database that cannot store the webhook is a 503 so that the provider retries.

- `/api/webhooks/receive/<code>/`: the integration by its code. A provider's
  handshake (eBay's `GET ?challenge_code=`, WooCommerce's unsigned
  `webhook_id=N` ping, Meta's hub.challenge) is answered first, through
  services.webhook_handshake, before any signature check and storing nothing;
  anything else but a POST delivery is 405.
- `POST /api/webhooks/shopify/`: the integration by `X-Shopify-Shop-Domain`,
  matched against `integration.config["shop_domain"]` (lower-case
  `name.myshopify.com`); among several, the one whose secret verifies.
- `GET /api/webhooks/meta/`: Meta's subscription check, the same handshake
  asked of every integration whose connector uses the `meta` scheme: answers
  `hub.challenge` when `hub.verify_token` equals the `verify_token` in one's
  credentials (encrypted), else 403.
  `POST /api/webhooks/meta/`: the integration whose app secret (webhook_secret)
  verifies `X-Hub-Signature-256`; if several do (one Meta app, several
  integrations), the one whose `config["meta_object_ids"]` lists an entry id.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable

from django.conf import settings
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from config.errors import ApplicationError, IntegrationNotFound, PayloadTooLarge, ValidationError, error_body
from connectors import registry
from integrations.models import Integration

from .errors import InvalidVerifyToken, WebhookMethodNotAllowed, WebhookStoreUnavailable
from .services import Receipt, webhook_handshake, webhook_receive

logger = logging.getLogger(__name__)

NO_INTEGRATION = "No integration receives webhooks at this address."


def _error(exc: ApplicationError) -> JsonResponse:
    response = JsonResponse(error_body(exc.code, exc.message, exc.details), status=exc.http_status)
    if exc.http_status == 503:
        response["Retry-After"] = "30"
    if exc.http_status == 405:
        response["Allow"] = ", ".join(exc.details.get("allowed") or [])
    return response


def webhook_endpoint(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """CSRF-exempt, errors as the envelope, database failures as 503 (never a 2xx for what was not stored)."""

    @csrf_exempt
    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except ApplicationError as exc:
            return _error(exc)
        except DatabaseError as exc:
            logger.error("incoming webhook not stored: database error %s: %s", type(exc).__name__, exc)
            return _error(WebhookStoreUnavailable())

    return wrapper


def read_body(request: HttpRequest) -> bytes:
    """The raw body, at most WEBHOOK_MAX_BODY_BYTES; PayloadTooLarge before reading when the length says so."""
    limit = settings.WEBHOOK_MAX_BODY_BYTES
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise ValidationError("The Content-Length header is not a number.") from None
    if length > limit:
        raise PayloadTooLarge(details={"max_bytes": limit, "content_length": length})
    body = request.read(limit + 1)
    if len(body) > limit:
        raise PayloadTooLarge(details={"max_bytes": limit})
    return body


def _accepted(receipt: Receipt) -> JsonResponse:
    webhook = receipt.webhook
    body = {"id": webhook.pk, "status": webhook.status}
    if not receipt.created:
        body["duplicate"] = True
    return JsonResponse(body, status=202 if receipt.created else 200)


def _receive(request: HttpRequest, integrations: list[Integration], body: bytes | None = None,
             **kwargs) -> JsonResponse:
    body = read_body(request) if body is None else body
    receipt = webhook_receive(
        integrations=integrations, headers=dict(request.headers), body=body,
        remote_ip=request.META.get("REMOTE_ADDR") or None, path=request.path, **kwargs,
    )
    return _accepted(receipt)


def _handshake(request: HttpRequest, integration: Integration, body: bytes) -> HttpResponse | None:
    answer = webhook_handshake(registry.connector_for(integration), method=request.method or "",
                               headers=dict(request.headers), query=request.GET.dict(), body=body)
    if answer is None:
        return None
    status, payload = answer
    if isinstance(payload, str):
        return HttpResponse(payload, status=status, content_type="text/plain; charset=utf-8")
    return JsonResponse(payload, status=status, safe=False)


@webhook_endpoint
def receive(request: HttpRequest, code: str) -> HttpResponse:
    integration = Integration.objects.filter(code=code).first()
    if integration is None or not registry.is_registered(integration.provider):
        raise IntegrationNotFound(NO_INTEGRATION)
    body = read_body(request)
    answered = _handshake(request, integration, body)
    if answered is not None:
        return answered
    if request.method != "POST":
        raise WebhookMethodNotAllowed(details={"allowed": ["POST"]})
    return _receive(request, [integration], body=body)


@webhook_endpoint
@require_http_methods(["POST"])
def receive_shopify(request: HttpRequest) -> HttpResponse:
    domain = request.headers.get("X-Shopify-Shop-Domain", "").strip().lower()
    candidates = [i for i in Integration.objects.filter(config__shop_domain=domain).order_by("pk")
                  if registry.is_registered(i.provider)] if domain else []
    if not candidates:
        raise IntegrationNotFound(NO_INTEGRATION, details={"shop_domain": domain})
    return _receive(request, candidates)


def _meta_integrations() -> list[Integration]:
    providers = [key for key, cls in registry.providers().items() if cls.webhook_scheme == "meta"]
    return list(Integration.objects.filter(provider__in=providers).order_by("pk")) if providers else []


def _meta_pick(verified, body: bytes):
    """Among integrations sharing one Meta app secret, the one listing an entry id in config["meta_object_ids"]."""
    try:
        entry_ids = {str(entry.get("id")) for entry in json.loads(body).get("entry") or [] if isinstance(entry, dict)}
    except (ValueError, AttributeError):
        entry_ids = set()
    for integration, connector in verified:
        listed = {str(i) for i in (integration.config or {}).get("meta_object_ids") or []}
        if listed & entry_ids:
            return integration, connector
    return verified[0]


@webhook_endpoint
@require_http_methods(["GET", "POST"])
def receive_meta(request: HttpRequest) -> HttpResponse:
    integrations = _meta_integrations()
    if request.method == "GET":
        answered = next((a for a in (_handshake(request, i, b"") for i in integrations) if a is not None), None)
        if answered is None:
            raise InvalidVerifyToken()
        return answered
    if not integrations:
        raise IntegrationNotFound(NO_INTEGRATION)
    return _receive(request, integrations, pick=_meta_pick)
