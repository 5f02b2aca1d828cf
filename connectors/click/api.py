"""Click's SHOP-API endpoints: `POST /api/payments/click/<route_key>/prepare/` and `…/complete/`, called by Click.

Click posts form fields and reads a JSON answer (HTTP 200 whatever the
`error`). Checks, in Click's order: every field present (-8), the signature
(-1, against the integration's `api_secret`, the service's SECRET_KEY, and its
`config["service_id"]`), the action matching the endpoint (-3), then the step's
own checks (transactions.py). Each call leaves one inbound IntegrationLog row.
"""

from __future__ import annotations

import logging
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from config.errors import IntegrationNotFound, error_body
from connectors.payments import log_inbound
from integrations.models import Integration

from . import errors, sign, transactions
from .errors import ClickError

logger = logging.getLogger(__name__)

FIELDS = ("click_trans_id", "service_id", "click_paydoc_id", "merchant_trans_id", "amount", "action", "error",
          "sign_time", "sign_string")
PREPARE, COMPLETE = "0", "1"


def _number(value: str) -> Any:
    return int(value) if value.lstrip("-").isdigit() else value


def handle(integration: Integration, fields: dict[str, str], *, action: str) -> dict[str, Any]:
    """Click's answer to one step (never raises)."""
    complete = action == COMPLETE
    answer: dict[str, Any] = {"click_trans_id": _number(fields.get("click_trans_id", "")),
                              "merchant_trans_id": fields.get("merchant_trans_id", "")}
    try:
        required = (*FIELDS, "merchant_prepare_id") if complete else FIELDS
        if any(not fields.get(name) for name in required):
            raise ClickError(errors.BAD_REQUEST)
        service_id = str((integration.config or {}).get("service_id") or "")
        signed_complete = fields["action"] == COMPLETE  # the signature follows the posted action, as Click signs
        if signed_complete and not fields.get("merchant_prepare_id"):
            raise ClickError(errors.BAD_REQUEST)
        if not sign.verify(fields, integration.api_secret, complete=signed_complete) \
                or fields["service_id"] != service_id:
            raise ClickError(errors.SIGN_FAILED)
        if fields["action"] != action:
            raise ClickError(errors.ACTION_NOT_FOUND)
        step = transactions.complete if complete else transactions.prepare
        answer.update(step(integration, fields))
    except ClickError as exc:
        answer["error"] = exc.code
    except Exception:  # noqa: BLE001 - Click gets -7, the traceback goes to the log
        logger.exception("Click %s for integration %s failed", "complete" if complete else "prepare", integration.pk)
        answer["error"] = errors.UPDATE_FAILED
    if complete:
        answer.setdefault("merchant_confirm_id", None)
    else:
        answer.setdefault("merchant_prepare_id", None)
    answer["error_note"] = errors.NOTES[answer["error"]]
    return answer


def _endpoint(request: HttpRequest, route_key: str, action: str) -> HttpResponse:
    integration = Integration.objects.filter(route_key=route_key, provider="click").first()
    if integration is None:
        error = IntegrationNotFound("No Click integration answers at this address.")
        return JsonResponse(error_body(error.code, error.message), status=404)
    fields = {key: str(value).strip() for key, value in request.POST.items()}
    answer = handle(integration, fields, action=action)
    step = "complete" if action == COMPLETE else "prepare"
    failure = answer["error"] != errors.SUCCESS
    log_inbound(integration, action=f"click.{step}", path=request.path, request=fields, response=answer,
                error=f"{answer['error']}: {answer['error_note']}" if failure else "")
    return JsonResponse(answer)


@csrf_exempt
@require_POST
def prepare(request: HttpRequest, route_key: str) -> HttpResponse:
    return _endpoint(request, route_key, PREPARE)


@csrf_exempt
@require_POST
def complete(request: HttpRequest, route_key: str) -> HttpResponse:
    return _endpoint(request, route_key, COMPLETE)
