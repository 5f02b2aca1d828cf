"""The one error hierarchy and the one DRF exception handler.

Every API error leaves as `{"error": {"code", "message", "details"}}`. Services
raise `ApplicationError` subclasses; DRF's own exceptions are translated here so
that a client sees one shape whatever went wrong.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError, InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponsePermanentRedirect, JsonResponse
from django.urls import Resolver404, resolve
from django.views import defaults
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions as drf_exceptions
from rest_framework import status
from rest_framework.response import Response

logger = logging.getLogger(__name__)


class ApplicationError(Exception):
    """Base of every error the product raises on purpose."""

    code = "APPLICATION_ERROR"
    http_status = status.HTTP_400_BAD_REQUEST
    default_message = "The request could not be completed."

    def __init__(self, message: str | None = None, *, details: dict[str, Any] | None = None, code: str | None = None):
        self.message = message or self.default_message
        self.details = details or {}
        if code:
            self.code = code
        super().__init__(self.message)


class ValidationError(ApplicationError):
    code = "VALIDATION_ERROR"
    default_message = "The request is not valid."


class NotFound(ApplicationError):
    code = "NOT_FOUND"
    http_status = status.HTTP_404_NOT_FOUND
    default_message = "Not found."


class IntegrationNotFound(NotFound):
    code = "INTEGRATION_NOT_FOUND"
    default_message = "Integration not found."


class WebhookNotFound(NotFound):
    code = "WEBHOOK_NOT_FOUND"
    default_message = "Webhook not found."


class InvalidProvider(ValidationError):
    code = "INVALID_PROVIDER"
    default_message = "Unknown provider."


class CapabilityNotSupported(ValidationError):
    code = "CAPABILITY_NOT_SUPPORTED"
    default_message = "The provider does not support this operation."


class InvalidSignature(ApplicationError):
    code = "INVALID_SIGNATURE"
    http_status = status.HTTP_401_UNAUTHORIZED
    default_message = "The signature is missing or does not match."


class PayloadTooLarge(ApplicationError):
    code = "PAYLOAD_TOO_LARGE"
    http_status = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_message = "The request body is too large."


class OAuthFailed(ApplicationError):
    code = "OAUTH_FAILED"
    default_message = "The authorization could not be completed."


class SyncFailed(ApplicationError):
    code = "SYNC_FAILED"
    http_status = status.HTTP_409_CONFLICT
    default_message = "The sync could not be started."


class IntegrationInactive(SyncFailed):
    """A sync (or another call that needs working credentials) of an integration that is not switched on.

    A SyncFailed, so whatever refused syncs before still recognises it; the message names the call that fixes it.
    """

    code = "INTEGRATION_INACTIVE"
    default_message = "The integration is not active."


class SecretsUnreadable(ApplicationError):
    """An integration's secrets are stored under an encryption key this process's ENCRYPTION_KEYS lacks.

    During a key rotation that means this process still runs on the old ring (deploy the new one to it); after
    it, that a key was dropped from the ring too early (put it back). `details.key_ids` names the keys needed.
    Transient: the same call succeeds once the process holds the key, so tasks retry it rather than fail.
    """

    code = "SECRETS_UNREADABLE"
    http_status = status.HTTP_503_SERVICE_UNAVAILABLE
    default_message = "The integration's secrets are stored under an encryption key this process does not hold."
    transient = True

    @classmethod
    def for_fields(cls, unreadable: dict[str, str], ring_key_ids: list[str]) -> SecretsUnreadable:
        """The error for {field: key id} (from integrations.encryption.unreadable_secrets)."""
        key_ids = sorted(set(unreadable.values()))
        return cls(
            f"The integration's secrets ({', '.join(sorted(unreadable))}) are stored under encryption key "
            f"{', '.join(key_ids)}, which this process's ENCRYPTION_KEYS does not hold ({', '.join(ring_key_ids)}). "
            "Deploy the key ring that holds it to every process (or put the key back), then try again.",
            details={"key_ids": key_ids, "fields": sorted(unreadable), "ring_key_ids": ring_key_ids},
        )


class UnsafeURL(ValidationError):
    default_message = "The URL points at a private, loopback or link-local address."


class RoleRequired(ApplicationError):
    """A 403 that says which role the call needs and which role the caller has (details name both)."""

    code = "PERMISSION_DENIED"
    http_status = status.HTTP_403_FORBIDDEN
    default_message = "Your role does not allow this."


class ServiceUnavailable(ApplicationError):
    code = "SERVICE_UNAVAILABLE"
    http_status = status.HTTP_503_SERVICE_UNAVAILABLE
    default_message = "The service cannot reach its database; try again shortly."


# Seconds a client is asked to wait when the database is unreachable.
DATABASE_RETRY_AFTER = 10


_DRF_CODES = {
    drf_exceptions.NotAuthenticated: ("NOT_AUTHENTICATED", status.HTTP_401_UNAUTHORIZED),
    drf_exceptions.AuthenticationFailed: ("AUTHENTICATION_FAILED", status.HTTP_401_UNAUTHORIZED),
    drf_exceptions.PermissionDenied: ("PERMISSION_DENIED", status.HTTP_403_FORBIDDEN),
    drf_exceptions.NotFound: ("NOT_FOUND", status.HTTP_404_NOT_FOUND),
    drf_exceptions.MethodNotAllowed: ("METHOD_NOT_ALLOWED", status.HTTP_405_METHOD_NOT_ALLOWED),
    drf_exceptions.NotAcceptable: ("NOT_ACCEPTABLE", status.HTTP_406_NOT_ACCEPTABLE),
    drf_exceptions.UnsupportedMediaType: ("UNSUPPORTED_MEDIA_TYPE", status.HTTP_415_UNSUPPORTED_MEDIA_TYPE),
    drf_exceptions.Throttled: ("RATE_LIMITED", status.HTTP_429_TOO_MANY_REQUESTS),
    drf_exceptions.ParseError: ("VALIDATION_ERROR", status.HTTP_400_BAD_REQUEST),
    drf_exceptions.ValidationError: ("VALIDATION_ERROR", status.HTTP_400_BAD_REQUEST),
}


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def _drf_message(exc: drf_exceptions.APIException) -> str:
    if isinstance(exc, drf_exceptions.ValidationError):
        return "The request is not valid."
    detail = exc.detail
    if isinstance(detail, (list, dict)):
        return "The request could not be completed."
    return str(detail)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Render every exception a view lets out as the error envelope."""
    headers: dict[str, str] = {}
    if isinstance(exc, ApplicationError):
        body, code = error_body(exc.code, exc.message, exc.details), exc.http_status
        retry_after = exc.details.get("retry_after") if isinstance(exc.details, dict) else None
        if retry_after is not None:
            headers["Retry-After"] = str(int(retry_after))
        return Response(body, status=code, headers=headers)
    if isinstance(exc, DataError):  # a value the database cannot hold (out of range, a NUL): the input's fault
        logger.info("Database refused a request value: %s", type(exc).__name__)
        return Response(error_body("VALIDATION_ERROR", "A value in the request is out of range or not storable."),
                        status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, Http404):
        exc = drf_exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = drf_exceptions.PermissionDenied()
    elif isinstance(exc, DjangoValidationError):
        exc = drf_exceptions.ValidationError(detail=exc.message_dict if hasattr(exc, "error_dict") else exc.messages)
    if not isinstance(exc, drf_exceptions.APIException):
        return None  # a real bug: let Django's 500 handling (and logging) see it
    code, http_status = next(
        ((c, s) for cls, (c, s) in _DRF_CODES.items() if isinstance(exc, cls)),
        ("ERROR", exc.status_code),
    )
    if isinstance(exc, drf_exceptions.ParseError):
        details = {"body": [str(exc.detail)]}
        message = "The request body is not valid JSON."
    elif isinstance(exc, drf_exceptions.ValidationError):
        details = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        message = _drf_message(exc)
    else:
        details, message = {}, _drf_message(exc)
    if getattr(exc, "wait", None):
        headers["Retry-After"] = str(int(exc.wait))
    if isinstance(exc, (drf_exceptions.NotAuthenticated, drf_exceptions.AuthenticationFailed)):
        headers["WWW-Authenticate"] = "Api-Key"
    return Response(error_body(code, message, details), status=http_status, headers=headers)


# ---------------------------------------------------------------- outside DRF: Django's handlers and middleware

API_PREFIX = "/api/"


def is_api_request(request: HttpRequest) -> bool:
    return request.path.startswith(API_PREFIX)


def database_unavailable(exc: BaseException | None) -> bool:
    """The database could not be reached (refused, timed out, dropped), as opposed to a query it refused."""
    return isinstance(exc, (OperationalError, InterfaceError))


def envelope_response(code: str, message: str, status_code: int, details: dict[str, Any] | None = None,
                      headers: dict[str, str] | None = None) -> JsonResponse:
    return JsonResponse(error_body(code, message, details), status=status_code, headers=headers)


def database_unavailable_response() -> JsonResponse:
    exc = ServiceUnavailable()
    return envelope_response(exc.code, exc.message, exc.http_status,
                             headers={"Retry-After": str(DATABASE_RETRY_AFTER)})


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """handler404: the envelope under /api/ (a URL no route matches), Django's page elsewhere."""
    if is_api_request(request):
        return envelope_response("NOT_FOUND", "Not found.", status.HTTP_404_NOT_FOUND)
    return defaults.page_not_found(request, exception)


@csrf_exempt
def api_route_not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    """The last route under /api/: a URL no other route matches answers the envelope 404, DEBUG or not.

    handler404 only runs with DEBUG off, so without this route `make run` (DEBUG on) would answer an HTML page.
    Being a route, it also stops APPEND_SLASH from seeing a 404, so its redirect is made here: a GET or HEAD
    of a URL that exists with a trailing slash is sent there (301); any other method is told the right URL.
    """
    slashed = request.path_info + "/"
    if not request.path_info.endswith("/") and _is_api_route(slashed):
        if request.method in ("GET", "HEAD"):
            query = request.META.get("QUERY_STRING", "")
            return HttpResponsePermanentRedirect(request.path + "/" + (f"?{query}" if query else ""))
        return envelope_response("NOT_FOUND", f"Not found; the URL ends with a slash: {request.path}/",
                                 status.HTTP_404_NOT_FOUND, {"url": [f"{request.path}/"]})
    return envelope_response("NOT_FOUND", "Not found.", status.HTTP_404_NOT_FOUND)


def _is_api_route(path: str) -> bool:
    try:
        return resolve(path).func is not api_route_not_found
    except Resolver404:
        return False


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: under /api/ a JSON envelope (503 when the database is unreachable), Django's page elsewhere.

    Nothing of the exception reaches the client; Django has logged it already.
    """
    if not is_api_request(request):
        return defaults.server_error(request)
    if database_unavailable(sys.exc_info()[1]):
        return database_unavailable_response()
    return envelope_response("INTERNAL_ERROR", "Something went wrong on our side; it has been logged.",
                             status.HTTP_500_INTERNAL_SERVER_ERROR)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """handler400 (a SuspiciousOperation, a malformed request): the envelope under /api/."""
    if is_api_request(request):
        return envelope_response("VALIDATION_ERROR", "The request is not valid.", status.HTTP_400_BAD_REQUEST)
    return defaults.bad_request(request, exception)
