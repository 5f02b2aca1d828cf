"""`/api/schema/` is a complete map: every route under /api/ appears in it, provider callbacks included."""

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from openapi_spec_validator import validate

NOT_API = {"/api/schema/", "/api/docs/", "/api/"}  # the schema, its docs page, the router's index


def _routes(resolver, prefix=""):
    for entry in resolver.url_patterns:
        pattern = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            yield from _routes(entry, pattern)
        elif isinstance(entry, URLPattern):
            yield pattern


def _shape(path: str) -> str:
    """`^integrations/(?P<pk>[^/.]+)/$`, `<slug:code>` and `{id}` all become `{}`; anchors dropped."""
    path = re.sub(r"\(\?P<\w+>[^)]*\)", "{}", path)
    path = re.sub(r"<(?:\w+:)?\w+>", "{}", path)
    path = re.sub(r"\{[^}]*\}", "{}", path)
    return "/" + path.replace("^", "").replace("$", "").lstrip("/")


@pytest.fixture
def schema(client, db):
    return client.get("/api/schema/?format=json").json()


def test_every_api_route_is_in_the_schema(schema):
    validate(schema)
    documented = {_shape(path) for path in schema["paths"]}
    routes = {_shape(r) for r in _routes(get_resolver()) if r.startswith("api/") and "format" not in r}
    missing = sorted(r for r in routes - documented if r not in NOT_API)
    assert missing == []


def test_provider_callbacks_are_documented_without_api_key_security(schema):
    for path in ("/api/webhooks/receive/{route_key}/", "/api/payments/payme/{route_key}/",
                 "/api/payments/click/{route_key}/prepare/"):
        operation = schema["paths"][path]["post"]
        assert operation["security"] == [] and "provider callbacks" in operation["tags"]
