"""`Authorization: Api-Key <key>` authentication for programs."""

from __future__ import annotations

from dataclasses import dataclass

from rest_framework import authentication, exceptions

from .audit import client_ip
from .models import ApiKey, Organization
from .services import api_key_authenticate
from .throttling import failure_record


@dataclass
class ApiKeyPrincipal:
    """Who a request comes from when it carries an API key: the key, not a person."""

    api_key: ApiKey

    is_authenticated = True
    is_anonymous = False
    is_staff = False
    is_superuser = False

    @property
    def organization(self) -> Organization:
        return self.api_key.organization

    @property
    def role(self) -> str:
        return self.api_key.role

    @property
    def pk(self) -> None:  # not a user: nothing to attribute writes to
        return None

    def __str__(self) -> str:
        return f"api-key:{self.api_key.prefix}"


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Api-Key"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        keyword, _, raw = header.partition(" ")
        if keyword.lower() == "bearer":
            # The usual OAuth habit; say what this API takes instead of "no credentials were provided".
            raise exceptions.AuthenticationFailed(
                "Send the API key as `Authorization: Api-Key <key>`, not `Bearer <key>`."
            )
        if keyword.lower() != self.keyword.lower():  # auth schemes are case-insensitive (RFC 9110 11.1)
            return None
        raw = raw.strip()
        api_key = api_key_authenticate(raw) if raw else None
        if api_key is None:
            failure_record(client_ip(request))  # past the limit: 429 instead of 401
            raise exceptions.AuthenticationFailed("Invalid or revoked API key." if raw else "No API key given.")
        return ApiKeyPrincipal(api_key), api_key

    def authenticate_header(self, request) -> str:
        return self.keyword
