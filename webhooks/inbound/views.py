"""The receive endpoints providers call: plain Django views, no session, no CSRF, no DRF parsing.

They read the raw body themselves, refusing it by its Content-Length before
reading when it is over WEBHOOK_MAX_BODY_BYTES (and never reading more than one
byte past the cap), because a signature is over the exact bytes and a parser
must not see a body we have not verified. Errors are the one envelope; a
database that cannot store the webhook is a 503 so that the provider retries.

- `/api/webhooks/receive/<route_key>/`: the integration by its route key (unique
  across organizations; an integration older than per-organization codes has its
  code as route key, so its old URL still works). A provider's
  handshake (eBay's `GET ?challenge_code=`, WooCommerce's unsigned
  `webhook_id=N` ping, Meta's hub.challenge) is answered first, through
  services.webhook_handshake, before any signature check and storing nothing;
  anything else but a POST delivery is 405.
- `POST /api/webhooks/shopify/`: the one integration that claimed the shop of
  `X-Shopify-Shop-Domain` (integrations/routing.py: a completed OAuth install or
  a superuser), verified with that integration's secret only. Integrations that
  merely name the shop in their config get nothing.
- `GET /api/webhooks/meta/`: Meta's subscription check, the same handshake
  asked of every integration whose connector uses the `meta` scheme: answers
  `hub.challenge` when `hub.verify_token` equals the `verify_token` in one's
  credentials (encrypted), else 403.
  `POST /api/webhooks/meta/`: the one integration that claimed the entries'
  ids (pages, ad accounts: the kinds the meta-scheme connectors declare).

Routing never guesses. An account nobody claimed is 404 INTEGRATION_NOT_FOUND,
and a Meta batch whose entries belong to several integrations is 409
WEBHOOK_ROUTE_AMBIGUOUS: nothing stored, a warning logged, and the provider
retries (Shopify for 4 hours), so a shop claimed meanwhile still gets it.
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
from integrations.routing import account_owners

from .errors import InvalidVerifyToken, WebhookMethodNotAllowed, WebhookRouteAmbiguous, WebhookStoreUnavailable
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
def receive(request: HttpRequest, route_key: str) -> HttpResponse:
    integration = Integration.objects.filter(route_key=route_key).first()
    if integration is None or not registry.is_registered(integration.provider):
        raise IntegrationNotFound(NO_INTEGRATION)
    body = read_body(request)
    answered = _handshake(request, integration, body)
    if answered is not None:
        return answered
    if request.method != "POST":
        raise WebhookMethodNotAllowed(details={"allowed": ["POST"]})
    return _receive(request, [integration], body=body)


def _routed(request: HttpRequest, where: str, kinds: tuple[str, ...], account_ids: set[str]) -> Integration:
    """The one integration that claimed the accounts; refused (and logged, never stored) when none or several."""
    owners = account_owners(kinds, account_ids)
    if len(owners) == 1:
        return owners[0]
    accounts = ", ".join(sorted(account_ids))[:300] or "(none named)"
    if not owners:
        logger.warning("%s webhook refused: no integration claimed %s (remote %s)", where, accounts,
                       request.META.get("REMOTE_ADDR"))
        raise IntegrationNotFound(NO_INTEGRATION)
    logger.warning("%s webhook refused: %s are claimed by %d integrations (%s); not stored", where, accounts,
                   len(owners), ", ".join(str(o.pk) for o in owners))
    raise WebhookRouteAmbiguous()


@webhook_endpoint
@require_http_methods(["POST"])
def receive_shopify(request: HttpRequest) -> HttpResponse:
    domain = request.headers.get("X-Shopify-Shop-Domain", "").strip().lower()
    owner = _routed(request, "Shopify", ("shopify.shop",), {domain} if domain else set())
    return _receive(request, [owner])


def _meta_connectors() -> list[type]:
    return [cls for cls in registry.providers().values() if cls.webhook_scheme == "meta"]


def _meta_integrations() -> list[Integration]:
    providers = [cls.key for cls in _meta_connectors()]
    return list(Integration.objects.filter(provider__in=providers).order_by("pk")) if providers else []


def _meta_entry_ids(body: bytes) -> set[str]:
    try:
        entries = json.loads(body).get("entry") or []
    except (ValueError, AttributeError):
        return set()
    return {str(entry["id"]) for entry in entries if isinstance(entry, dict) and entry.get("id") is not None}


@webhook_endpoint
@require_http_methods(["GET", "POST"])
def receive_meta(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        answered = next((a for a in (_handshake(request, i, b"") for i in _meta_integrations()) if a is not None),
                        None)
        if answered is None:
            raise InvalidVerifyToken()
        return answered
    body = read_body(request)
    kinds = tuple(sorted({kind for cls in _meta_connectors() for kind in cls.routed_account_kinds}))
    owner = _routed(request, "Meta", kinds, _meta_entry_ids(body))
    return _receive(request, [owner], body=body)
