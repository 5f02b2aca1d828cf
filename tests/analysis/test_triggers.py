"""The ways an analysis starts and is decided: the API (202, read back, accept/reject), the console (dashboard
button, suggestion actions), the cron job (same list as beat), `manage.py analyze`."""

from __future__ import annotations

from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from analysis import services
from analysis.models import AnalysisRun, AnalysisSettings, Suggestion
from commerce.models import Product
from syncjobs import cron
from tests.analysis.support import AS_OF
from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db


def test_post_queues_a_run_202_and_get_reads_it_with_its_suggestions(operator_api, viewer_api, org, dataset,
                                                                     monkeypatch):
    nudged = []
    monkeypatch.setattr(services, "nudge_on_commit", lambda task, args: nudged.append((task.name, args)))
    assert viewer_api.post("/api/analyses/", {"kind": "stock"}, format="json").status_code == 403
    bad = operator_api.post("/api/analyses/", {"kind": "weather"}, format="json")
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "VALIDATION_ERROR"
    bad_scope = operator_api.post("/api/analyses/", {"kind": "stock", "scope": {"skus": "SKU-C"}}, format="json")
    assert bad_scope.status_code == 400 and not AnalysisRun.objects.exists()
    answer = operator_api.post("/api/analyses/", {"kind": "stock"}, format="json")
    assert answer.status_code == 202
    run_id = answer.json()["id"]
    assert answer.json()["status"] == "queued" and nudged == [("analysis.tasks.run_analysis", (run_id,))]
    services.analysis_run(run_id, as_of=AS_OF)  # what the worker does
    read = viewer_api.get(f"/api/analyses/{run_id}/").json()
    assert (read["status"], read["source"], read["trigger"]) == ("completed", "rules", "api")
    assert [(s["action"], s["parameters"]) for s in read["suggestions"]] == [
        ("reorder", {"quantity": 6, "needed_by": "2026-12-01"}), ("reorder", {"quantity": 74, "needed_by":
                                                                              "2026-12-08"})]
    assert viewer_api.get("/api/analyses/999999/").json()["error"]["code"] == "ANALYSIS_NOT_FOUND"


def test_suggestions_list_filters_and_accept_reject_endpoints(operator_api, viewer_api, org):
    product = Product.objects.create(organization=org, sku="SKU-A", price=Decimal("100.00"), currency="RON")
    run = AnalysisRun.objects.create(organization=org, kind="pricing", status="completed", source="rules")
    first, second = (Suggestion.objects.create(
        organization=org, run=run, product=product, action="set_price", text=f"s{n}", confidence=Decimal("0.6"),
        source="rules", parameters={"price": price, "from": "100.00", "currency": "RON"})
        for n, price in ((1, "120.00"), (2, "90.00")))
    assert viewer_api.post(f"/api/suggestions/{first.pk}/accept/").status_code == 403
    accepted = operator_api.post(f"/api/suggestions/{first.pk}/accept/")
    assert accepted.status_code == 200 and accepted.json()["status"] == "applied"
    assert Product.objects.get().price == Decimal("120.00")
    again = operator_api.post(f"/api/suggestions/{first.pk}/accept/")
    assert again.status_code == 409 and again.json()["error"]["code"] == "SUGGESTION_NOT_PROPOSED"
    assert operator_api.post(f"/api/suggestions/{second.pk}/reject/").json()["status"] == "rejected"
    assert Product.objects.get().price == Decimal("120.00")
    listed = viewer_api.get("/api/suggestions/", {"status": "applied"}).json()["results"]
    assert [s["id"] for s in listed] == [first.pk]


def test_over_budget_post_is_422_with_a_clear_message(operator_api, org, dataset, ai_integration):
    AnalysisSettings.objects.create(organization=org, monthly_token_budget=10)
    answer = operator_api.post("/api/analyses/", {"kind": "pricing"}, format="json")
    assert answer.status_code == 422
    assert answer.json()["error"]["code"] == "AI_TOKEN_BUDGET_EXCEEDED"
    assert "monthly AI token budget" in answer.json()["error"]["message"]


def test_the_dashboard_button_queues_a_run_and_accepting_in_the_console_applies(client, org, dataset, monkeypatch):
    monkeypatch.setattr(services, "nudge_on_commit", lambda task, args: None)
    client.force_login(MembershipFactory(organization=org, role="operator").user)
    page = client.get("/admin/")
    assert b"Run analysis" in page.content
    client.post("/admin/analysis/analysisrun/start/", {"kind": "pricing"})
    run = AnalysisRun.objects.get()
    assert (run.kind, run.trigger, run.status) == ("pricing", "console", "queued")
    services.analysis_run(run.pk, as_of=AS_OF)
    suggestion = run.suggestions.get()
    client.post("/admin/analysis/suggestion/", {"action": "accept", "_selected_action": [suggestion.pk]})
    assert Suggestion.objects.get().status == "applied"
    assert Product.objects.get(sku="SKU-A").price == Decimal("120.00")


def test_cron_ai_analysis_is_the_beat_job(settings, monkeypatch):
    settings.CRON_SECRET = "cron-secret-123456"
    sent = []
    monkeypatch.setattr(cron, "_send", lambda name, kwargs, *_: sent.append((name, kwargs)))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer cron-secret-123456")
    assert client.post("/api/cron/ai-analysis/").status_code == 202
    assert sent == [("analysis.tasks.run_daily_analyses", {})]


def test_the_daily_job_queues_every_kind_for_organizations_with_data(org, dataset, monkeypatch):
    from analysis import tasks

    monkeypatch.setattr(services, "nudge_on_commit", lambda task, args: None)
    assert tasks.run_daily_analyses() == {"started": 3, "refused": 0}
    assert sorted(AnalysisRun.objects.values_list("kind", "trigger")) == [
        ("campaigns", "schedule"), ("pricing", "schedule"), ("stock", "schedule")]


def test_manage_py_analyze_runs_and_prints(org, dataset):
    out = StringIO()
    call_command("analyze", "--kind", "campaigns", "--organization", org.slug, stdout=out)
    assert "completed (Rule-based), 3 suggestion(s)" in out.getvalue()
    assert "Pause campaign Gloves" in out.getvalue()
    assert AnalysisRun.objects.get().trigger == "command"
