"""Errors of incoming webhooks that config/errors.py does not already have (same hierarchy, same envelope)."""

from __future__ import annotations

from rest_framework import status

from config.errors import ApplicationError


class WebhookStoreUnavailable(ApplicationError):
    """The database could not store the webhook: answer 503 so the provider delivers it again later."""

    code = "SERVICE_UNAVAILABLE"
    http_status = status.HTTP_503_SERVICE_UNAVAILABLE
    default_message = "The webhook could not be stored right now; deliver it again later."


class WebhookMethodNotAllowed(ApplicationError):
    """A request to a receive URL that is neither a delivery (POST) nor a handshake the provider answers."""

    code = "METHOD_NOT_ALLOWED"
    http_status = status.HTTP_405_METHOD_NOT_ALLOWED
    default_message = "Webhooks are delivered with POST."


class InvalidVerifyToken(ApplicationError):
    """Meta's subscription check (`hub.verify_token`) named no integration's token; Meta expects a 403."""

    code = "INVALID_VERIFY_TOKEN"
    http_status = status.HTTP_403_FORBIDDEN
    default_message = "The verify token does not match."


class WebhookNotRetryable(ApplicationError):
    """A retry asked of a webhook that is not failed (pending and processing ones are queued already)."""

    code = "WEBHOOK_NOT_RETRYABLE"
    http_status = status.HTTP_409_CONFLICT
    default_message = "Only a failed webhook can be retried."


class WebhookRouteAmbiguous(ApplicationError):
    """A provider-level delivery names accounts of several integrations: storing it in any one would guess."""

    code = "WEBHOOK_ROUTE_AMBIGUOUS"
    http_status = status.HTTP_409_CONFLICT
    default_message = "The webhook names accounts of more than one integration; it was not stored."
