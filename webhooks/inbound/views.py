"""The one receive view providers call: a plain Django view, no session, no CSRF, no DRF parsing.

It reads the raw body itself, refusing it by its Content-Length before reading
when it is over WEBHOOK_MAX_BODY_BYTES (and never reading more than one byte
past the cap), because a signature is over the exact bytes and a parser must
not see a body we have not verified. Errors are the one envelope; a database
that cannot store the webhook is a 503 so that the provider retries.

Two kinds of address reach it (urls.py), and everything provider-specific is
asked of the connector (webhooks/inbound/services.py):

- `/api/webhooks/receive/<route_key>/`: the integration by its route key (unique
  across organizations; an integration older than per-organization codes has its
  code as route key, so its old URL still works). A provider's handshake (a
  challenge, a creation ping) is answered first, before any signature check and
  storing nothing; anything else but a POST delivery is 405.
- `/api/webhooks/<app route>/`: an app-level address some schemes declare
  (connectors/schemes.py `AppRoute`: a provider that sends every account's
  deliveries of one app to one URL). A POST goes to the one integration that
  claimed the account the delivery names (integrations/routing.py: a completed
  OAuth install or a superuser), among the registered connectors whose scheme
  has that route, and is verified with that integration's secret only;
  integrations that merely name the account in their config get nothing. A
  GET is the scheme's handshake, asked of every such integration (403
  INVALID_VERIFY_TOKEN when none answers); any other method is 405.

Routing never guesses. An account nobody claimed is 404 INTEGRATION_NOT_FOUND,
and a delivery whose accounts belong to several integrations is 409
WEBHOOK_ROUTE_AMBIGUOUS: nothing stored, a warning logged, and the provider
retries, so an account claimed meanwhile still gets it.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable

from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from config.errors import ApplicationError, IntegrationNotFound, PayloadTooLarge, ValidationError, error_body
from connectors import registry
from connectors.capabilities import WebhookReceiver
from connectors.schemes import AppRoute
from integrations.models import Integration
from integrations.routing import account_owners

from .errors import InvalidVerifyToken, WebhookMethodNotAllowed, WebhookRouteAmbiguous, WebhookStoreUnavailable
from .route_cache import forget, route_for
from .routes import app_routes, route_connectors, route_has_handshake
from .services import Receipt, StaleRoute, webhook_handshake, webhook_receive, webhook_receive_route

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


def _accepted(receipt: Receipt) -> HttpResponse:
    """202 with the new row's id (200 and `duplicate` for a redelivery): the JSON JsonResponse would write, made
    without its encoder class (two plain values; the busiest answer of the app)."""
    body = {"id": receipt.webhook_id, "status": receipt.status}
    if not receipt.created:
        body["duplicate"] = True
    return HttpResponse(json.dumps(body), status=202 if receipt.created else 200, content_type="application/json")


def _receive(request: HttpRequest, integrations: list[Integration], body: bytes) -> JsonResponse:
    receipt = webhook_receive(
        integrations=integrations, headers=dict(request.headers), body=body,
        remote_ip=request.META.get("REMOTE_ADDR") or None, path=request.path,
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


def _integrations_of(connectors: list[type[WebhookReceiver]]) -> list[Integration]:
    providers = [cls.key for cls in connectors]
    return list(Integration.objects.filter(provider__in=providers).order_by("pk")) if providers else []


def _routed(request: HttpRequest, route: str, kinds: tuple[str, ...], account_ids: set[str]) -> Integration:
    """The one integration that claimed the accounts; refused (and logged, never stored) when none or several."""
    owners = account_owners(kinds, account_ids)
    if len(owners) == 1:
        return owners[0]
    accounts = ", ".join(sorted(account_ids))[:300] or "(none named)"
    if not owners:
        logger.warning("%s webhook refused: no integration claimed %s (remote %s)", route, accounts,
                       request.META.get("REMOTE_ADDR"))
        raise IntegrationNotFound(NO_INTEGRATION)
    logger.warning("%s webhook refused: %s are claimed by %d integrations (%s); not stored", route, accounts,
                   len(owners), ", ".join(str(o.pk) for o in owners))
    raise WebhookRouteAmbiguous()


def _app_level(request: HttpRequest, route: AppRoute, body: bytes) -> list[Integration] | HttpResponse:
    """The integration a POST at an app-level address is for, or the answer to anything else."""
    connectors = route_connectors(route.name)
    if request.method != "POST":
        handshakes = route_has_handshake(route.name)
        if request.method != "GET" or not handshakes:
            raise WebhookMethodNotAllowed(details={"allowed": ["GET", "POST"] if handshakes else ["POST"]})
        answered = next((a for a in (_handshake(request, i, body) for i in _integrations_of(connectors))
                         if a is not None), None)
        if answered is None:
            raise InvalidVerifyToken()
        return answered
    kinds = tuple(sorted({kind for cls in connectors for kind in cls.routed_account_kinds}))
    return [_routed(request, route.name, kinds, route.accounts(dict(request.headers), body))]


@webhook_endpoint
def receive(request: HttpRequest, route_key: str = "", app_route: str = "") -> HttpResponse:
    """A delivery (or a handshake) at an integration's own address (`route_key`) or an app-level one."""
    if app_route:
        body = read_body(request)
        routed = _app_level(request, app_routes()[app_route], body)
        if isinstance(routed, HttpResponse):
            return routed
        return _receive(request, routed, body)
    return _without_health_check(lambda: _at_route_key(request, route_key))


def _at_route_key(request: HttpRequest, route_key: str) -> HttpResponse:
    route = route_for(route_key)
    if route is None:
        raise IntegrationNotFound(NO_INTEGRATION)
    body = read_body(request)
    answered = _handshake(request, route.integration, body) if route.handshakes else None
    if answered is not None:
        return answered
    if request.method != "POST":
        raise WebhookMethodNotAllowed(details={"allowed": ["POST"]})
    headers, remote_ip = dict(request.headers), request.META.get("REMOTE_ADDR") or None
    try:
        receipt = webhook_receive_route(route=route, headers=headers, body=body, remote_ip=remote_ip,
                                        path=request.path)
    except StaleRoute:  # changed in another process since it was cached: verified again against what it is now
        forget(route_key)
        route = route_for(route_key)
        if route is None:
            raise IntegrationNotFound(NO_INTEGRATION) from None
        receipt = webhook_receive_route(route=route, headers=headers, body=body, remote_ip=remote_ip,
                                        path=request.path)
    return _accepted(receipt)


def _without_health_check(view: Callable[[], HttpResponse]) -> HttpResponse:
    """Run the view without CONN_HEALTH_CHECKS' `SELECT 1` on a reused connection: its first statement is the
    check. When that statement finds the connection dead (the database restarted since the last request), the
    connection is closed and the view runs once more on a fresh one. At worst a webhook whose INSERT committed
    just as the connection broke is stored twice, as it would be when the provider retried the 503 (and the
    provider's event id, where there is one, makes that one row)."""
    reused = connection.connection is not None and not connection.in_atomic_block
    if reused and connection.health_check_enabled:
        connection.health_check_done = True
    try:
        return view()
    except (InterfaceError, OperationalError):
        if not reused:
            raise
        connection.close()
        return view()
