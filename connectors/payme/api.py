"""Payme's merchant API endpoint: `POST /api/payments/payme/<route_key>/`, JSON-RPC 2.0, called by Payme.

Every answer is HTTP 200 with a JSON-RPC body (Payme reads errors from the
body, not the status). Order of checks, as Payme's sandbox expects: POST
(-32300), Basic auth `Paycom:<cashbox key>` against the integration's
`api_key`, compared in constant time (-32504), JSON (-32700), a JSON-RPC
request (-32600), a known method (-32601), then the method's own checks
(transactions.py). An unexpected failure is -32400 and is logged; each call
leaves one inbound IntegrationLog row (no Authorization header in it).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import logging
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from config.errors import IntegrationNotFound, error_body
from connectors.payments import log_inbound
from integrations.models import Integration

from . import errors, transactions
from .errors import PaymeError

logger = logging.getLogger(__name__)

LOGIN = "Paycom"

METHODS: dict[str, Callable[[Integration, dict[str, Any]], dict[str, Any]]] = {
    "CheckPerformTransaction": lambda i, p: transactions.check_perform_transaction(
        i, amount=p.get("amount"), account=p.get("account")),
    "CreateTransaction": lambda i, p: transactions.create_transaction(
        i, payme_id=p.get("id"), time=p.get("time"), amount=p.get("amount"), account=p.get("account")),
    "PerformTransaction": lambda i, p: transactions.perform_transaction(i, payme_id=p.get("id")),
    "CancelTransaction": lambda i, p: transactions.cancel_transaction(i, payme_id=p.get("id"), reason=p.get("reason")),
    "CheckTransaction": lambda i, p: transactions.check_transaction(i, payme_id=p.get("id")),
    "GetStatement": lambda i, p: transactions.get_statement(i, start=p.get("from"), end=p.get("to")),
    "ChangePassword": lambda i, p: transactions.change_password(i, password=p.get("password")),
}


def authorized(integration: Integration, authorization: str) -> bool:
    """`Basic base64("Paycom:<key>")` with the integration's key; an integration without a key admits nobody."""
    scheme, _, encoded = authorization.strip().partition(" ")
    if scheme.lower() != "basic" or not encoded or not integration.api_key:
        return False
    try:
        login, _, password = base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
    except (binascii.Error, ValueError):
        return False
    key_ok = hmac.compare_digest(password.encode(), integration.api_key.encode())
    return hmac.compare_digest(login.encode(), LOGIN.encode()) & key_ok


def _answer(request_id: Any, *, result: Any = None, error: PaymeError | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id}
    if error is not None:
        body["error"] = error.body()
    else:
        body["result"] = result
    return body


def dispatch(integration: Integration, *, authorization: str, raw: bytes, method_is_post: bool) -> dict[str, Any]:
    """The JSON-RPC answer to one call (never raises)."""
    request_id: Any = None
    try:
        if not method_is_post:
            raise PaymeError(errors.NOT_POST)
        try:
            call, parsed = json.loads(raw), True
        except ValueError:
            call, parsed = None, False
        if isinstance(call, dict):
            request_id = call.get("id")
        if not authorized(integration, authorization):
            raise PaymeError(errors.INSUFFICIENT_PRIVILEGE)
        if not parsed:
            raise PaymeError(errors.PARSE_ERROR)
        if not isinstance(call, dict) or not isinstance(call.get("method"), str) \
                or not isinstance(call.get("params"), dict):
            raise PaymeError(errors.INVALID_REQUEST)
        method = METHODS.get(call["method"])
        if method is None:
            raise PaymeError(errors.METHOD_NOT_FOUND, call["method"][:64])
        return _answer(request_id, result=method(integration, call["params"]))
    except PaymeError as exc:
        return _answer(request_id, error=exc)
    except Exception:  # noqa: BLE001 - Payme gets a JSON-RPC system error, the traceback goes to the log
        logger.exception("Payme merchant API call for integration %s failed", integration.pk)
        return _answer(request_id, error=PaymeError(errors.SYSTEM_ERROR))


@csrf_exempt
def merchant_api(request: HttpRequest, route_key: str) -> HttpResponse:
    integration = Integration.objects.filter(route_key=route_key, provider="payme").first()
    if integration is None:
        error = IntegrationNotFound("No Payme integration answers at this address.")
        return JsonResponse(error_body(error.code, error.message), status=404)
    raw = request.body if request.method == "POST" else b""
    answer = dispatch(integration, authorization=request.headers.get("Authorization", ""), raw=raw,
                      method_is_post=request.method == "POST")
    try:
        logged: Any = json.loads(raw) if raw else {}
    except ValueError:
        logged = {"body_bytes": len(raw)}
    method = logged.get("method") if isinstance(logged, dict) else None
    failure = answer.get("error")
    log_inbound(integration, action=f"payme.{method if isinstance(method, str) else 'call'}", path=request.path,
                request=logged, response=answer,
                error=f"{failure['code']}: {failure['message']['en']}" if failure else "")
    return JsonResponse(answer)
