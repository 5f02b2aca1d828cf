"""The analyses' part of /api/schema/ says what the API does: the retry endpoint, accept's 202, the retry links
and the lease on a suggestion, and the campaign scope."""

from __future__ import annotations

import pytest


@pytest.fixture
def schema(client, db) -> dict:
    return client.get("/api/schema/?format=json").json()


def _ref(schema: dict, ref: str) -> dict:
    return schema["components"]["schemas"][ref.rsplit("/", 1)[1]]


def test_retry_and_accept_are_documented_as_they_answer(schema):
    retry = schema["paths"]["/api/analyses/{id}/retry/"]
    assert set(retry) == {"post"}
    responses = retry["post"]["responses"]
    assert {"202", "404", "409", "422"} <= set(responses)
    assert "ANALYSIS_NOT_RETRYABLE" in responses["409"]["description"]
    run = _ref(schema, responses["202"]["content"]["application/json"]["schema"]["$ref"])
    assert {"retry_of", "retry"} <= set(run["properties"])
    accept = schema["paths"]["/api/suggestions/{id}/accept/"]["post"]["responses"]
    assert {"200", "202", "409"} <= set(accept)
    suggestion = _ref(schema, accept["200"]["content"]["application/json"]["schema"]["$ref"])
    assert {"claimed_at", "apply_attempts"} <= set(suggestion["properties"])


def test_the_start_body_takes_a_campaign_scope(schema):
    body = schema["paths"]["/api/analyses/"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/AnalysisStartRequest"}
    campaigns = schema["components"]["schemas"]["ScopeRequest"]["properties"]["campaigns"]
    assert (campaigns["maxItems"], campaigns["items"]["minimum"], campaigns["items"]["maximum"]) == (
        500, 1, 2**63 - 1)
