"""/api/schema/ is a valid OpenAPI 3 document that describes the API as it behaves; /api/docs/ needs no CDN."""

from __future__ import annotations

import re

import pytest
from django.contrib.staticfiles import finders
from openapi_spec_validator import validate

from integrations.models import SECRET_FIELDS


@pytest.fixture
def schema(client, db) -> dict:
    response = client.get("/api/schema/?format=json")
    assert response.status_code == 200
    return response.json()


def test_schema_validates_as_openapi_3(schema):
    validate(schema)
    assert schema["openapi"].startswith("3.")


def test_schema_lists_every_endpoint(schema):
    paths = schema["paths"]
    assert set(paths["/api/integrations/"]) == {"get", "post"}
    assert set(paths["/api/integrations/{id}/"]) == {"get", "put", "patch", "delete"}
    assert set(paths["/api/integrations/{id}/test/"]) == {"post"}
    assert set(paths["/api/providers/"]) == {"get"}
    assert set(paths["/api/integration-logs/"]) == {"get"}
    assert set(paths["/api/integration-logs/{id}/"]) == {"get"}
    assert set(paths["/api/events/"]) == {"post"}
    assert set(paths["/api/event-sources/{id}/rotate-secret/"]) == {"post"}
    assert "connected_by" in {p["name"] for p in paths["/api/integrations/"]["get"]["parameters"]}


def test_api_key_security_scheme_applies_to_operations(schema):
    assert schema["components"]["securitySchemes"]["ApiKeyAuth"] == {
        "type": "apiKey", "in": "header", "name": "Authorization", "description": "`Api-Key <key>`",
    }
    operation = schema["paths"]["/api/integrations/"]["get"]
    assert {"ApiKeyAuth": []} in operation["security"]
    assert operation["security"].count({"ApiKeyAuth": []}) == 1


def test_errors_are_documented_as_the_envelope(schema):
    envelope = schema["components"]["schemas"]["ErrorResponse"]
    body_ref = envelope["properties"]["error"]["$ref"].rsplit("/", 1)[1]
    assert set(schema["components"]["schemas"][body_ref]["properties"]) == {"code", "message", "details"}
    create = schema["paths"]["/api/integrations/"]["post"]["responses"]
    detail = schema["paths"]["/api/integrations/{id}/"]["get"]["responses"]
    error_ref = {"$ref": "#/components/schemas/ErrorResponse"}
    for responses, code in ((create, "400"), (create, "403"), (detail, "404"), (detail, "401")):
        assert responses[code]["content"]["application/json"]["schema"] == error_ref
    assert "INTEGRATION_NOT_FOUND" in detail["404"]["description"]


def _component(schema: dict, operation: dict, *, response: str | None = None) -> dict:
    content = operation["responses"][response]["content"] if response else operation["requestBody"]["content"]
    ref = content["application/json"]["schema"]
    ref = ref.get("$ref") or ref["items"]["$ref"]
    return schema["components"]["schemas"][ref.rsplit("/", 1)[1]]


def test_secrets_are_write_only_in_the_schema(schema):
    create = schema["paths"]["/api/integrations/"]["post"]
    patch = schema["paths"]["/api/integrations/{id}/"]["patch"]
    request, patch_request = _component(schema, create), _component(schema, patch)
    output = _component(schema, create, response="201")

    assert set(request["required"]) == {"name", "provider"}  # code: made from the name when left out
    assert "required" not in patch_request
    for name in SECRET_FIELDS:
        assert name in request["properties"] and name in patch_request["properties"]
        assert name not in output["properties"]
        assert f"has_{name}" in output["properties"]
    assert "organization" not in request["properties"]
    assert output["properties"]["credentials_keys"]["type"] == "array"
    assert output["properties"]["api_key_masked"]["type"] == "string"


def test_test_action_and_list_shapes(schema):
    test_op = schema["paths"]["/api/integrations/{id}/test/"]["post"]
    assert set(_component(schema, test_op, response="200")["properties"]) == {"ok", "latency_ms", "detail",
                                                                              "activated", "status"}
    listing = schema["paths"]["/api/integrations/"]["get"]
    params = {p["name"] for p in listing["parameters"]}
    assert {"provider", "type", "status", "auto_sync_enabled", "search", "ordering", "cursor", "page_size"} <= params
    log_params = {p["name"] for p in schema["paths"]["/api/integration-logs/"]["get"]["parameters"]}
    assert {"integration", "action", "direction", "status_code", "created_after", "created_before"} <= log_params


def test_schema_yaml_is_served_too(client, db):
    response = client.get("/api/schema/")
    assert response.status_code == 200
    assert b"openapi: 3." in response.content


def test_swagger_ui_renders_without_external_hosts(client, db):
    response = client.get("/api/docs/")

    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html.lower()
    urls = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", html)
    assert urls, "expected the page to load its assets"
    assert all(url.startswith("/") and not url.startswith("//") for url in urls), urls
    assert not re.search(r"https?://(?!127\.0\.0\.1|localhost|testserver)", html)
    assert "/static/drf_spectacular_sidecar/" in html
    for url in urls:  # every asset ships with the app (the sidecar), none is fetched from elsewhere
        assert finders.find(url.removeprefix("/static/")), url
    assert "/api/schema/" in html


def test_every_operation_lists_the_errors_it_can_answer(schema):
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            assert "503" in responses, (method, path)
            assert "Retry-After" in responses["503"]["headers"], (method, path)
            if {"ApiKeyAuth": []} in operation.get("security", []):
                for code in ("400", "401", "403", "429"):
                    assert code in responses, (method, path, code)
                assert "Retry-After" in responses["429"]["headers"]
            if "{" in path:
                assert "404" in responses, (method, path)
    listing = schema["paths"]["/api/integrations/"]["get"]
    page_size = next(p for p in listing["parameters"] if p["name"] == "page_size")
    assert page_size["schema"] == {"type": "integer", "minimum": 1, "maximum": 500}


def test_no_operation_is_described_by_an_internal_docstring(schema):
    """A view without a docstring of its own must not lend one of its mixins' (TenantScopedMixin's) to the docs."""
    descriptions = [operation.get("description", "") for item in schema["paths"].values()
                    for operation in item.values() if isinstance(operation, dict)]
    assert not [text for text in descriptions if "schema-generation" in text or "routed explicitly" in text]


def test_an_integrations_sync_jobs_are_named_sync_jobs(schema):
    paths = schema["paths"]
    assert paths["/api/integrations/{integration_id}/sync-jobs/"]["get"]["summary"] == "List an integration's sync jobs"
    assert paths["/api/integrations/{integration_id}/sync-logs/"]["get"]["deprecated"] is True
