"""The receive addresses in `/api/schema/` (a drf-spectacular postprocessing hook; config/schema.py says why)."""

from __future__ import annotations

from typing import Any

from config.schema import ERROR, add_paths, json_response, route_key_param, webhook_post

from .routes import app_routes

RECEIVE = {
    "get": {
        "operationId": "webhook_handshake",
        "summary": "Answer a provider's endpoint check",
        "description": "A provider's check of its address (a challenge code, a verify token); stores nothing. 405 "
                       "when the provider has none.",
        "tags": ["provider callbacks"], "security": [], "parameters": [route_key_param()],
        "responses": {"200": json_response({"type": "object"}, "The handshake answer."),
                      "405": json_response(ERROR, "METHOD_NOT_ALLOWED")},
    },
    "post": webhook_post("Receive a webhook",
                         "Any provider's webhook; the integration's connector picks the signature scheme.",
                         [route_key_param()]),
}


def add_receive_routes(result: dict[str, Any], generator, request, public) -> dict[str, Any]:
    """The integration's receive address, and each app-level one as its scheme describes it."""
    paths = {"/api/webhooks/receive/{route_key}/": RECEIVE}
    paths.update({f"/api/webhooks/{name}/": dict(route.openapi) for name, route in sorted(app_routes().items())})
    return add_paths(result, paths)
