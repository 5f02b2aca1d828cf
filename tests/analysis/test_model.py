"""Runs answered by Claude (recorded Messages API answers, mocked with `responses`): a valid tool-use answer
becomes exact suggestions; an invalid one fails the run; 429 and 529 are retried through connectors/http.py;
a refused key falls back to the rules; no customer data and no key in what is sent or logged."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
import responses

from analysis import services
from analysis.models import AnalysisRun, AnalysisSettings, Source, Suggestion
from analysis.proposals import ANSWER_SCHEMA
from integrations.models import IntegrationLog
from tests.analysis.support import AS_OF, MESSAGES, PERSONAL, replay_message
from webhooks.models import WebhookDelivery, WebhookEndpoint

pytestmark = pytest.mark.django_db


def _run(org, kind="campaigns"):
    run = services.analysis_start(organization=org, kind=kind)
    return services.analysis_run(run.pk, as_of=AS_OF)


def _ids(dataset):
    return {"BOOTS": dataset["campaigns"]["boots"].pk, "GLOVES": dataset["campaigns"]["gloves"].pk}


@responses.activate
def test_a_valid_tool_answer_becomes_exact_suggestions_and_publishes(org, dataset, ai_integration):
    endpoint = WebhookEndpoint.objects.create(organization=org, url="https://hooks.example.com/ai",
                                              events=["ads.suggestions_ready"], secret="whsec_test")
    replay_message("messages__campaigns_tool_use", _ids(dataset))
    run = _run(org)
    assert (run.status, run.source, run.model, run.input_tokens, run.output_tokens, run.cost_estimate) == (
        "completed", Source.MODEL, "claude-sonnet-4-5-20250929", 1873, 241, Decimal("0.009234"))
    boots, gloves = dataset["campaigns"]["boots"], dataset["campaigns"]["gloves"]
    got = [(s.action, s.campaign_id, s.parameters, s.text, s.confidence, s.source, s.status)
           for s in Suggestion.objects.order_by("id")]
    assert got == [
        ("set_daily_budget", boots.pk, {"daily_budget": "30.00", "from": "50.00", "currency": "RON"},
         "Lower daily budget of campaign Winter boots from 50.00 to 30.00 RON", Decimal("0.82"), "model",
         "proposed"),
        ("pause_campaign", gloves.pk, {}, "Pause campaign Gloves", Decimal("0.90"), "model", "proposed"),
    ]
    sent = json.loads(responses.calls[0].request.body)
    assert sent["model"] == "claude-sonnet-4-5" and sent["tool_choice"] == {"type": "tool",
                                                                            "name": "record_suggestions"}
    assert sent["tools"][0]["input_schema"] == ANSWER_SCHEMA
    assert responses.calls[0].request.headers["x-api-key"] == ai_integration.api_key
    assert "anthropic-version" in responses.calls[0].request.headers
    delivery = WebhookDelivery.objects.get(endpoint=endpoint)
    assert delivery.event == "ads.suggestions_ready"
    assert delivery.payload["data"]["suggestions"] == 2
    assert delivery.payload["data"]["ad_account"] == {"id": boots.ad_account_id, "name": "Shop RO"}
    assert delivery.payload["data"]["run"] == {"id": run.pk, "kind": "campaigns", "source": "model"}
    # nothing was applied: the campaign is as it was
    boots.refresh_from_db()
    assert boots.daily_budget == Decimal("50.00")


@responses.activate
@pytest.mark.parametrize("kind", ["campaigns", "pricing", "stock"])
def test_no_customer_data_and_no_key_leave_or_are_logged(org, dataset, ai_integration, kind):
    responses.add("POST", MESSAGES, json={
        "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5-20250929",
        "content": [{"type": "tool_use", "id": "toolu_1", "name": "record_suggestions", "input": {"suggestions": []}}],
        "stop_reason": "tool_use", "usage": {"input_tokens": 10, "output_tokens": 5}})
    run = _run(org, kind)
    assert run.status == "completed" and not run.suggestions.exists()
    body = responses.calls[0].request.body.decode()
    for personal in PERSONAL:
        assert personal not in body
    assert "@" not in body and "phone" not in body and "address" not in body
    assert "SKU-C" in body or kind == "campaigns"  # the figures did go
    log = IntegrationLog.objects.get(integration=ai_integration, action="messages_create")
    assert ai_integration.api_key not in json.dumps(log.request) + json.dumps(log.response)


@responses.activate
def test_an_invalid_answer_fails_the_run_with_the_reason_and_keeps_nothing(org, dataset, ai_integration):
    replay_message("messages__invalid_target", _ids(dataset))
    run = _run(org)
    assert run.status == "failed" and run.source == Source.MODEL
    assert run.error == ("The model's answer was not valid: suggestions[1].target_id 987654 is not in the figures "
                         "given.")
    assert run.input_tokens == 1873  # what it cost is still counted
    assert not Suggestion.objects.exists()


@responses.activate
@pytest.mark.parametrize("throttle", ["messages__rate_limited", "messages__overloaded"])
def test_429_and_529_are_retried_with_backoff_through_the_http_policy(org, dataset, ai_integration, sleeps,
                                                                      throttle):
    replay_message(throttle)
    replay_message("messages__campaigns_tool_use", _ids(dataset))
    run = _run(org)
    assert run.status == "completed" and run.source == Source.MODEL and run.suggestions.count() == 2
    assert len(responses.calls) == 2
    assert len(sleeps) == 1 and (sleeps[0] == 2.0 if throttle == "messages__rate_limited" else sleeps[0] <= 0.5)
    assert [log.status_code for log in IntegrationLog.objects.filter(integration=ai_integration).order_by("id")] == [
        int(throttle == "messages__rate_limited" and 429 or 529), 200]


@responses.activate
def test_a_refused_key_falls_back_to_the_rules_and_says_why(org, dataset, ai_integration):
    replay_message("messages__unauthorized")
    run = _run(org)
    assert (run.status, run.source) == ("completed", Source.RULES)
    assert "invalid x-api-key" in run.fallback_reason and "rule-based analyzer answered" in run.fallback_reason
    assert [s.action for s in run.suggestions.order_by("id")] == ["set_daily_budget", "pause_campaign",
                                                                  "set_daily_budget"]
    assert {s.source for s in run.suggestions.all()} == {"rules"}


def test_without_an_ai_integration_the_rules_answer(org, dataset):
    run = _run(org, "stock")
    assert (run.status, run.source, run.integration, run.input_tokens) == ("completed", "rules", None, 0)
    assert [(s.action, s.product_id, s.parameters) for s in run.suggestions.order_by("id")] == [
        ("reorder", dataset["products"]["b"].pk, {"quantity": 6, "needed_by": "2026-12-01"}),
        ("reorder", dataset["products"]["c"].pk, {"quantity": 74, "needed_by": "2026-12-08"})]


@responses.activate
def test_a_run_over_the_monthly_token_budget_is_refused_before_any_call(org, dataset, ai_integration):
    AnalysisSettings.objects.create(organization=org, monthly_token_budget=1000)
    with pytest.raises(services.TokenBudgetExceeded) as refused:
        services.analysis_start(organization=org, kind="campaigns")
    assert "would exceed the organization's monthly AI token budget" in refused.value.message
    assert refused.value.details["budget"] == 1000 and refused.value.details["estimate"] > 1000
    run = AnalysisRun.objects.get()
    assert run.status == "refused" and run.error == refused.value.message
    assert not responses.calls


@responses.activate
def test_tokens_already_used_this_month_count_against_the_budget(org, dataset, ai_integration, settings):
    settings.AI_MAX_OUTPUT_TOKENS = 100
    AnalysisSettings.objects.create(organization=org, monthly_token_budget=20_000)
    AnalysisRun.objects.create(organization=org, kind="stock", status="completed", input_tokens=19_000)
    with pytest.raises(services.TokenBudgetExceeded) as refused:
        services.analysis_start(organization=org, kind="campaigns")
    assert refused.value.details["used"] == 19_000
