"""Shared API plumbing every app's API uses: pagination, strict input, the error envelope in the schema, tenancy.

One way to do each: an app's serializers subclass `StrictInputSerializer`, its
views mix in `TenantScopedMixin`, and its schema annotations use `error_responses`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiResponse
from rest_framework import pagination, serializers

from accounts.tenancy import request_tenant


class CursorPagination(pagination.CursorPagination):
    """Cursor pagination: stable under inserts and cheap on large tables (no COUNT)."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500
    ordering = "-created_at"




class RejectUnknownFieldsMixin:
    """Refuse a body that names fields the serializer does not accept (DRF would silently drop them).

    A typo (`api_kye`) or a read-only field (`organization`, `last_error`) then
    fails loudly with VALIDATION_ERROR naming each offending field, instead of
    answering 200 and changing nothing.
    """

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            writable = {name for name, field in self.fields.items() if not field.read_only}
            offending = sorted(set(data) - writable)
            if offending:
                raise serializers.ValidationError(
                    {
                        name: ["This field is read-only." if name in self.fields else "Unknown field."]
                        for name in offending
                    }
                )
        return super().to_internal_value(data)


class StrictInputSerializer(RejectUnknownFieldsMixin, serializers.Serializer):
    """Base of every request body in this API."""


class _JSONTypeMixin:
    """Accept only the JSON type the field stands for: no "12" for 12, no 1 for true, no 123 for "123"."""

    json_types: tuple[type, ...] = ()

    def to_internal_value(self, data: Any) -> Any:
        if (isinstance(data, bool) and bool not in self.json_types) or not isinstance(data, self.json_types):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictCharField(_JSONTypeMixin, serializers.CharField):
    json_types = (str,)


class StrictSlugField(_JSONTypeMixin, serializers.SlugField):
    json_types = (str,)


class StrictURLField(_JSONTypeMixin, serializers.URLField):
    json_types = (str,)


class StrictBooleanField(_JSONTypeMixin, serializers.BooleanField):
    json_types = (bool,)


class StrictIntegerField(_JSONTypeMixin, serializers.IntegerField):
    json_types = (int,)


class ErrorBodySerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Machine-readable, e.g. VALIDATION_ERROR, INTEGRATION_NOT_FOUND.")
    message = serializers.CharField()
    details = serializers.DictField(help_text="Per-field messages for validation errors; context otherwise.")


class ErrorResponseSerializer(serializers.Serializer):
    """The one error envelope every API error uses."""

    error = ErrorBodySerializer()


class ApiKeyAuthScheme(OpenApiAuthenticationExtension):
    """Names `Authorization: Api-Key <key>` in the schema; loaded with config.urls."""

    target_class = "accounts.authentication.ApiKeyAuthentication"
    name = "ApiKeyAuth"

    def get_security_requirement(self, auto_schema):
        return None  # SPECTACULAR_SETTINGS["SECURITY"] already requires it on every operation

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "header", "name": "Authorization", "description": "`Api-Key <key>`"}



def error_responses(*, bad_request: str | None = None, not_found: str | None = None) -> dict[int, OpenApiResponse]:
    """The error responses of an operation, each the envelope, described by the codes it can carry."""
    responses = {
        401: "NOT_AUTHENTICATED or AUTHENTICATION_FAILED: no or bad `Authorization: Api-Key <key>`.",
        403: "PERMISSION_DENIED: the key's role does not allow this.",
    }
    if bad_request:
        responses[400] = bad_request
    if not_found:
        responses[404] = f"{not_found}: not found in the caller's organization."
    return {
        code: OpenApiResponse(ErrorResponseSerializer, description=text) for code, text in sorted(responses.items())
    }


class TenantScopedMixin:
    """The tenant's organization; a schema-generation pass (no real request) gets none."""

    @property
    def organization(self):
        return request_tenant(self.request).organization

    @property
    def _fake(self) -> bool:
        return getattr(self, "swagger_fake_view", False)


