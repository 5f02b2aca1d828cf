"""A failed or refused run is retried as a new run naming it (API and console), once; a run a dead worker left
running is failed by the sweep so it can be retried, and the worker coming back late changes nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from analysis import services, tasks
from analysis.models import AnalysisRun, Suggestion
from tests.analysis.support import AS_OF
from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def nudged(monkeypatch):
    sent = []
    monkeypatch.setattr(services, "nudge_on_commit", lambda task, args: sent.append(args[0]))
    return sent


def _failed(org, **fields) -> AnalysisRun:
    return AnalysisRun.objects.create(organization=org, kind="stock", scope={"skus": ["SKU-C"]}, status="failed",
                                      error="The model's answer was not valid: …", **fields)


def test_retrying_a_failed_run_queues_a_new_one_naming_it_once(operator_api, viewer_api, org, dataset, nudged):
    old = _failed(org)
    assert viewer_api.post(f"/api/analyses/{old.pk}/retry/").status_code == 403
    answer = operator_api.post(f"/api/analyses/{old.pk}/retry/")
    assert answer.status_code == 202, answer.json()
    new = answer.json()
    assert (new["kind"], new["scope"], new["status"], new["trigger"], new["retry_of"], new["retry"]) == (
        "stock", {"skus": ["SKU-C"]}, "queued", "api", old.pk, None)
    assert nudged == [new["id"]]
    assert viewer_api.get(f"/api/analyses/{old.pk}/").json()["retry"] == new["id"]
    assert AnalysisRun.objects.get(pk=old.pk).status == "failed"  # the old run stays as it ended

    again = operator_api.post(f"/api/analyses/{old.pk}/retry/")
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "ANALYSIS_NOT_RETRYABLE"
    assert again.json()["error"]["details"] == {"retry": new["id"]}
    services.analysis_run(new["id"], as_of=AS_OF)
    done = operator_api.post(f"/api/analyses/{new['id']}/retry/")  # it completed: nothing to retry
    assert done.status_code == 409 and done.json()["error"]["details"] == {"status": "completed"}
    assert operator_api.post("/api/analyses/999999/retry/").json()["error"]["code"] == "ANALYSIS_NOT_FOUND"
    assert AnalysisRun.objects.count() == 2


def test_a_concurrent_second_retry_is_refused_by_the_database(org, dataset, nudged):
    old = _failed(org)
    AnalysisRun.objects.create(organization=org, kind="stock", retry_of=old)  # the other request got there first
    with pytest.raises(services.RunNotRetryable):
        services.analysis_start(organization=org, kind="stock", retry_of=old)
    assert AnalysisRun.objects.count() == 2


def test_the_console_retries_from_the_list_and_from_the_run_page(client, org, dataset, nudged):
    first, second, fine = _failed(org), _failed(org), AnalysisRun.objects.create(organization=org, kind="stock",
                                                                                  status="completed")
    client.force_login(MembershipFactory(organization=org, role="operator").user)
    page = client.post("/admin/analysis/analysisrun/", {"action": "retry", "_selected_action": [first.pk, fine.pk]},
                       follow=True)
    retry = AnalysisRun.objects.get(retry_of=first)
    assert (retry.trigger, retry.kind, retry.scope) == ("console", "stock", {"skus": ["SKU-C"]})
    text = page.content.decode()
    assert f'<a href="/admin/analysis/analysisrun/{retry.pk}/change/">Stock analysis #{retry.pk}</a> queued' in text
    assert "only a failed or refused one can be retried" in text

    run_page = client.get(f"/admin/analysis/analysisrun/{second.pk}/change/").content.decode()
    assert "Retry this analysis" in run_page
    client.post(f"/admin/analysis/analysisrun/{second.pk}/action/retry/")
    assert AnalysisRun.objects.filter(retry_of=second).exists()
    assert "Retry this analysis" not in client.get(f"/admin/analysis/analysisrun/{second.pk}/change/").content.decode()


def test_the_sweep_fails_an_abandoned_run_and_the_late_worker_changes_nothing(org, dataset, nudged):
    run = services.analysis_start(organization=org, kind="stock")
    assert AnalysisRun.objects.filter(pk=run.pk, status="queued").update(
        status="running", started_at=timezone.now() - tasks.STALE_RUNNING - timedelta(minutes=1))
    forgotten = services.analysis_start(organization=org, kind="pricing")  # its nudge was lost
    AnalysisRun.objects.filter(pk=forgotten.pk).update(created_at=timezone.now() - tasks.STALE_QUEUED * 2)
    swept = tasks.sweep_analyses()
    assert (swept["abandoned_runs"], swept["queued_runs_run"]) == (1, 1)
    abandoned = AnalysisRun.objects.get(pk=run.pk)
    assert (abandoned.status, abandoned.error) == ("failed", services.WORKER_LOST)
    assert AnalysisRun.objects.get(pk=forgotten.pk).status == "completed"

    from analysis import inputs, rules

    late = AnalysisRun.objects.get(pk=run.pk)  # the worker was only slow: it finishes now
    services._finish(late, rules.analyze(inputs.compute("stock", organization=org, as_of=AS_OF)))
    assert AnalysisRun.objects.get(pk=run.pk).status == "failed"
    assert not Suggestion.objects.filter(run=run).exists()
    assert services.analysis_retry(run=abandoned).retry_of == abandoned
