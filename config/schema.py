"""Provider-facing routes in the OpenAPI schema.

Webhook receivers and payment callbacks are plain Django views on purpose: they
must read the raw body (signatures are over the exact bytes) before any parser
touches it, and they answer in the provider's own format. drf-spectacular only
sees DRF views, so this postprocessing hook adds those routes, described as the
providers call them, keeping `/api/schema/` a complete map of the API.
"""

from __future__ import annotations

from typing import Any

_ERROR = {"$ref": "#/components/schemas/ErrorResponse"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _route_key_param() -> dict[str, Any]:
    return {"name": "route_key", "in": "path", "required": True, "schema": {"type": "string"},
            "description": "The integration's route key (its `route_key`; for integrations created before codes "
                           "were per organization, its code)."}


_RAW_BODY = {"required": True, "content": {"application/json": {"schema": {"type": "object"}},
                                           "*/*": {"schema": {"type": "string", "format": "binary"}}}}
_ACCEPTED = _json({"type": "object", "properties": {"id": {"type": "integer"}, "status": {"type": "string"}}},
                  "Stored (202), or a redelivery of an event already stored (200, the existing id).")
_WEBHOOK_ERRORS = {
    "401": _json(_ERROR, "INVALID_SIGNATURE: missing or wrong signature; nothing stored."),
    "404": _json(_ERROR, "No integration with that route key."),
    "413": _json(_ERROR, "PAYLOAD_TOO_LARGE: body over WEBHOOK_MAX_BODY_BYTES."),
    "503": _json(_ERROR, "SERVICE_UNAVAILABLE: the database is down; the provider should retry."),
}


def _webhook_post(summary: str, description: str, parameters: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "operationId": summary.lower().replace(" ", "_"),
        "summary": summary,
        "description": description,
        "tags": ["provider callbacks"],
        "security": [],
        "parameters": parameters,
        "requestBody": _RAW_BODY,
        "responses": {"200": _ACCEPTED, "202": _ACCEPTED, **_WEBHOOK_ERRORS},
    }


def _provider_rpc(summary: str, description: str) -> dict[str, Any]:
    return {
        "operationId": summary.lower().replace(" ", "_").replace("(", "").replace(")", ""),
        "summary": summary,
        "description": description,
        "tags": ["provider callbacks"],
        "security": [],
        "parameters": [_route_key_param()],
        "requestBody": _RAW_BODY,
        "responses": {"200": _json({"type": "object"}, "The provider's own answer format (errors included).")},
    }


PROVIDER_ROUTES: dict[str, dict[str, Any]] = {
    "/api/webhooks/receive/{route_key}/": {
        "get": {
            "operationId": "webhook_handshake",
            "summary": "Answer a provider's endpoint check",
            "description": "eBay's `challenge_code` and similar handshakes; stores nothing. 405 when the "
                           "provider has none.",
            "tags": ["provider callbacks"], "security": [], "parameters": [_route_key_param()],
            "responses": {"200": _json({"type": "object"}, "The handshake answer."),
                          "405": _json(_ERROR, "METHOD_NOT_ALLOWED")},
        },
        "post": _webhook_post("Receive a webhook",
                              "Any provider's webhook; the integration's connector picks the signature scheme.",
                              [_route_key_param()]),
    },
    "/api/webhooks/shopify/": {
        "post": _webhook_post("Receive a Shopify webhook",
                              "Shopify's app-level webhooks (the privacy topics). Routed to the one integration "
                              "that claimed the shop of `X-Shopify-Shop-Domain` (its OAuth install, or a "
                              "superuser); a shop nobody claimed is 404 and nothing is stored. Signed with "
                              "`X-Shopify-Hmac-Sha256`.", []),
    },
    "/api/webhooks/meta/": {
        "get": {
            "operationId": "meta_verify_subscription",
            "summary": "Meta subscription check",
            "description": "Answers `hub.challenge` when `hub.verify_token` matches an integration's token.",
            "tags": ["provider callbacks"], "security": [],
            "parameters": [{"name": n, "in": "query", "required": True, "schema": {"type": "string"}}
                           for n in ("hub.mode", "hub.verify_token", "hub.challenge")],
            "responses": {"200": {"description": "The challenge, as text."},
                          "403": _json(_ERROR, "INVALID_VERIFY_TOKEN")},
        },
        "post": {**_webhook_post("Receive a Meta webhook",
                                 "Routed to the one integration that claimed the entries' ids (pages, ad "
                                 "accounts); signed with `X-Hub-Signature-256`. None: 404; several: 409.", []),
                 "responses": {"200": _ACCEPTED, "202": _ACCEPTED, **_WEBHOOK_ERRORS,
                               "409": _json(_ERROR, "WEBHOOK_ROUTE_AMBIGUOUS: the entries belong to several "
                                                    "integrations; nothing stored.")}},
    },
    "/api/payments/payme/{route_key}/": {
        "post": _provider_rpc("Payme merchant API",
                              "Payme's JSON-RPC (CheckPerformTransaction, CreateTransaction, PerformTransaction, "
                              "CancelTransaction, CheckTransaction, GetStatement); Basic auth `Paycom:<key>`."),
    },
    "/api/payments/click/{route_key}/prepare/": {
        "post": _provider_rpc("Click prepare", "Click's prepare step (form body, MD5 `sign_string`)."),
    },
    "/api/payments/click/{route_key}/complete/": {
        "post": _provider_rpc("Click complete", "Click's complete step (form body, MD5 `sign_string`)."),
    },
}


def add_provider_routes(result: dict[str, Any], generator, request, public) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: add the provider-facing routes DRF cannot see."""
    paths = result.setdefault("paths", {})
    for path, operations in PROVIDER_ROUTES.items():
        paths.setdefault(path, {}).update(operations)
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
                    responses[code] = _json(_ERROR, _COMMON_ERRORS[code])
                if code in ("429", "503"):
                    responses[code].setdefault("headers", {}).update(_RETRY_AFTER)
    return result
