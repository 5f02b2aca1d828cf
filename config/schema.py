"""The OpenAPI schema's shared pieces: the error envelope every operation can answer, and provider callbacks.

Webhook receivers and payment callbacks are plain Django views on purpose: they
must read the raw body (signatures are over the exact bytes) before any parser
touches it, and they answer in the provider's own format. drf-spectacular only
sees DRF views, so postprocessing hooks add those routes, described as the
providers call them, keeping `/api/schema/` a complete map of the API: the
receive routes (webhooks/inbound/schema.py) and the routes of providers' URL
modules (connectors/schema.py), built with the helpers below.
"""

from __future__ import annotations

from typing import Any

ERROR = {"$ref": "#/components/schemas/ErrorResponse"}


def json_response(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def route_key_param() -> dict[str, Any]:
    return {"name": "route_key", "in": "path", "required": True, "schema": {"type": "string"},
            "description": "The integration's route key (its `route_key`; for integrations created before codes "
                           "were per organization, its code)."}


_RAW_BODY = {"required": True, "content": {"application/json": {"schema": {"type": "object"}},
                                           "*/*": {"schema": {"type": "string", "format": "binary"}}}}
_ACCEPTED = json_response({"type": "object", "properties": {"id": {"type": "integer"}, "status": {"type": "string"}}},
                          "Stored (202), or a redelivery of an event already stored (200, the existing id).")
_WEBHOOK_ERRORS = {
    "401": json_response(ERROR, "INVALID_SIGNATURE: missing or wrong signature; nothing stored."),
    "404": json_response(ERROR, "No integration with that route key."),
    "413": json_response(ERROR, "PAYLOAD_TOO_LARGE: body over WEBHOOK_MAX_BODY_BYTES."),
    "503": json_response(ERROR, "SERVICE_UNAVAILABLE: the database is down; the provider should retry."),
}
_AMBIGUOUS = json_response(ERROR, "WEBHOOK_ROUTE_AMBIGUOUS: the entries belong to several integrations; nothing "
                                  "stored.")


def webhook_post(summary: str, description: str, parameters: list[dict[str, Any]], *,
                 routed: bool = False) -> dict[str, Any]:
    """A webhook delivery; `routed`: at an app-level address, where accounts of several integrations answer 409."""
    responses = {"200": _ACCEPTED, "202": _ACCEPTED, **_WEBHOOK_ERRORS}
    if routed:
        responses["409"] = _AMBIGUOUS
    return {
        "operationId": summary.lower().replace(" ", "_"),
        "summary": summary,
        "description": description,
        "tags": ["provider callbacks"],
        "security": [],
        "parameters": parameters,
        "requestBody": _RAW_BODY,
        "responses": responses,
    }


def provider_rpc(summary: str, description: str) -> dict[str, Any]:
    """A provider's call to an integration's endpoint that answers in the provider's own format."""
    return {
        "operationId": summary.lower().replace(" ", "_").replace("(", "").replace(")", ""),
        "summary": summary,
        "description": description,
        "tags": ["provider callbacks"],
        "security": [],
        "parameters": [route_key_param()],
        "requestBody": _RAW_BODY,
        "responses": {"200": json_response({"type": "object"}, "The provider's own answer format (errors included).")},
    }


def add_paths(result: dict[str, Any], paths: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Merge path items into a schema (a postprocessing hook's last step)."""
    for path, operations in paths.items():
        result.setdefault("paths", {}).setdefault(path, {}).update(operations)
    return result


# ---------------------------------------------------------------- errors every operation can answer

_COMMON_ERRORS = {
    "400": "VALIDATION_ERROR: a parameter or the body is not valid (details name each field).",
    "401": "NOT_AUTHENTICATED or AUTHENTICATION_FAILED: no or bad `Authorization: Api-Key <key>`.",
    "403": "PERMISSION_DENIED: the key's role does not allow this.",
    "404": "NOT_FOUND (or a more specific *_NOT_FOUND): not in the caller's organization.",
    "429": "RATE_LIMITED: too many failed API keys from this address; see Retry-After.",
    "503": "SERVICE_UNAVAILABLE: the database cannot be reached; see Retry-After.",
}
_RETRY_AFTER = {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait before retrying."}}


def _error_codes(path: str, operation: dict[str, Any]) -> list[str]:
    """The error statuses an operation can answer, from what it takes: a key, parameters, a body, an id."""
    codes = ["503"]
    secured = {"ApiKeyAuth": []} in operation.get("security", [])
    if secured:
        codes += ["401", "403", "429"]
    if operation.get("parameters") or operation.get("requestBody") or secured:
        codes.append("400")  # a NUL byte in any query parameter is refused too
    if "{" in path:
        codes.append("404")
    return codes


def add_error_responses(result: dict[str, Any], generator, request, public) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: every API operation lists the envelope errors it can answer.

    Operations keep what they describe themselves (a specific 404 code, a 409);
    this adds the statuses the shared plumbing gives every operation:
    authentication and its throttle, validation (query and body), missing ids,
    and the database being down.
    """
    for path, operations in result.get("paths", {}).items():
        if not path.startswith("/api/"):
            continue
        for operation in operations.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            for code in _error_codes(path, operation):
                if code not in responses:
                    responses[code] = json_response(ERROR, _COMMON_ERRORS[code])
                if code in ("429", "503"):
                    responses[code].setdefault("headers", {}).update(_RETRY_AFTER)
    return result
