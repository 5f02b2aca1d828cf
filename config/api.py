"""Shared API plumbing every app's API uses: pagination, strict input, the error envelope in the schema, tenancy.

One way to do each: an app's serializers subclass `StrictInputSerializer`, its
views mix in `accounts.tenancy.TenantScopedMixin`, and its schema annotations use `error_responses`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC
from typing import Any

import django_filters
from django.core.exceptions import ValidationError as DjangoValidationError
from django_filters.fields import IsoDateTimeField
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiResponse
from rest_framework import exceptions as drf_exceptions
from rest_framework import pagination, parsers, serializers


class CursorPagination(pagination.CursorPagination):
    """Cursor pagination: stable under inserts and cheap on large tables (no COUNT).

    A `page_size` or `cursor` the client got wrong is a 400 naming it; DRF
    would silently use the default size, or answer 404 for a list that exists.
    """

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500
    ordering = "-created_at"

    def get_page_size(self, request):
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        if not raw.isdigit() or not 1 <= int(raw) <= self.max_page_size:
            raise serializers.ValidationError(
                {self.page_size_query_param: [f"A whole number from 1 to {self.max_page_size}."]}
            )
        return int(raw)

    def decode_cursor(self, request):
        try:
            return super().decode_cursor(request)
        except drf_exceptions.NotFound:
            raise serializers.ValidationError(
                {self.cursor_query_param: ["Not a cursor this API gave out; use the next or previous link."]}
            ) from None

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"] = {"type": "integer", "minimum": 1, "maximum": self.max_page_size}
        return parameters


# ---------------------------------------------------------------- input PostgreSQL cannot hold


def contains_nul(value: Any) -> bool:
    """True when a NUL character hides anywhere in parsed JSON (keys included): PostgreSQL text cannot hold it."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, Mapping):
        return any(contains_nul(k) or contains_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(contains_nul(item) for item in value)
    return False


class JSONParser(parsers.JSONParser):
    """The API's JSON parser: a `\u0000` anywhere in the body is a 400 before any serializer or query sees it."""

    def parse(self, stream, media_type=None, parser_context=None):
        data = super().parse(stream, media_type, parser_context)
        if contains_nul(data):
            raise serializers.ValidationError({"body": ["Text may not contain NUL characters (\\u0000)."]})
        return data


class UTCDateTimeField(IsoDateTimeField):
    """An ISO 8601 instant, read in UTC.

    Python accepts offsets up to ±23:59 but PostgreSQL only ±15:59, so the
    instant is converted to UTC here, and one that has no UTC form (year 1 at
    +01:00, year 9999 at -23:59) is a validation error, not a database error.
    """

    def to_python(self, value):
        parsed = super().to_python(value)
        if parsed is None or parsed.tzinfo is None:
            return parsed
        try:
            return parsed.astimezone(UTC)
        except OverflowError:
            raise DjangoValidationError("This instant is outside the range of dates.", code="invalid") from None


class DateTimeFilter(django_filters.IsoDateTimeFilter):
    """The one datetime filter of the API (…_after / …_before)."""

    field_class = UTCDateTimeField


class IdFilter(django_filters.NumberFilter):
    """An id in the query string: a number in the database's bigint range, else VALIDATION_ERROR (not a 500 from
    a driver that cannot bind -1.8e308)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", 2**63 - 1)
        super().__init__(*args, **kwargs)


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
        401: "NOT_AUTHENTICATED or AUTHENTICATION_FAILED: no or bad `Authorization: Api-Key <key>` "
             "(a `Bearer` scheme is refused with a message naming `Api-Key`).",
        403: "PERMISSION_DENIED: the key's role does not allow this; `details.required_role` names the role "
             "needed and `details.role` the key's.",
    }
    if bad_request:
        responses[400] = bad_request
    if not_found:
        responses[404] = f"{not_found}: not found in the caller's organization."
    return {
        code: OpenApiResponse(ErrorResponseSerializer, description=text) for code, text in sorted(responses.items())
    }
