"""`manage.py sync` and `manage.py backfill_orders`: foreground runs, summaries, exit codes, resume."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from syncjobs.models import JobStatus, JobType, SyncJob, Trigger
from tests.syncjobs import fakes

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fake_writers(monkeypatch, writer):
    monkeypatch.setattr("syncjobs.engine.default_writers", writer.writers)
    return writer


def run(*args) -> str:
    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue()


def test_sync_runs_in_the_foreground_and_summarizes(integration, shop, writer, capsys):
    shop.add_orders(23)
    out = run("sync", "fake-shop", "--job-type", "sync_orders")
    job = SyncJob.objects.get()
    assert (job.status, job.trigger, job.records_created) == (JobStatus.COMPLETED, Trigger.COMMAND, 23)
    assert f"Job {job.pk} completed: 23 records in 3 pages — 23 created" in out
    assert "records" in capsys.readouterr().err  # the progress bar


def test_sync_fails_with_a_non_zero_exit(integration, shop):
    shop.fail_at[("orders", 0)] = fakes.permanent()
    with pytest.raises(CommandError, match="failed: PROVIDER_ERROR"):
        run("sync", "fake-shop", "--job-type", "sync_orders", "--no-progress")
    with pytest.raises(CommandError, match="No integration"):
        run("sync", "nope")


def test_sync_refuses_while_a_worker_runs_one(integration):
    from syncjobs import services

    job = services.sync_job_start(integration=integration, trigger=Trigger.API, job_type=JobType.SYNC_ORDERS)
    services.sync_job_claim(job_id=job.pk)
    with pytest.raises(CommandError, match=f"Job {job.pk} .* is running in a worker"):
        run("sync", "fake-shop", "--job-type", "sync_orders", "--no-progress")


def test_backfill_resumes_an_interrupted_run_of_the_same_range(integration, shop, writer, monkeypatch):
    shop.add_orders(60)
    real = writer.writers()
    calls = {"n": 0}

    def interrupted(*, integration, orders):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real["orders"](integration=integration, orders=orders)

    monkeypatch.setattr("syncjobs.engine.default_writers", lambda: {**real, "orders": interrupted})
    with pytest.raises(CommandError, match="Interrupted"):
        run("backfill_orders", "fake-shop", "--since", "2024-01-01", "--until", "2024-03-01", "--no-progress")
    job = SyncJob.objects.get()
    assert job.status == JobStatus.CANCELLED and job.records_processed == 20

    monkeypatch.setattr("syncjobs.engine.default_writers", writer.writers)
    shop.calls.clear()
    out = run("backfill_orders", "fake-shop", "--since", "2024-01-01", "--until", "2024-03-01", "--no-progress")
    assert "Resuming job" in out and shop.calls[0][2] == "20"
    job = SyncJob.objects.get()  # the same job carried on
    assert job.status == JobStatus.COMPLETED and job.records_processed == 60 and job.records_created == 60
    assert len(writer.stored["orders"]) == 60

    # another range is another job; the same range once completed starts afresh
    run("backfill_orders", "fake-shop", "--since", "2024-01-01", "--no-progress")
    run("backfill_orders", "fake-shop", "--since", "2024-01-01", "--until", "2024-03-01", "--no-progress")
    assert SyncJob.objects.count() == 3
    assert SyncJob.objects.order_by("-pk").first().records_unchanged == 60


def test_backfill_window_is_by_placement(integration, shop, writer):
    shop.add_orders(40)
    since = fakes.BASE_TIME + timedelta(days=10)
    run("backfill_orders", "fake-shop", "--since", since.date().isoformat(), "--until",
        (since + timedelta(days=10)).isoformat(), "--no-progress")
    assert sorted(writer.stored["orders"]) == [str(1000 + i) for i in range(10, 20)]


def test_each_command_run_is_in_the_audit_trail(integration, shop):
    from accounts.models import AuditEvent

    shop.add_orders(3)
    run("sync", "fake-shop", "--job-type", "sync_orders", "--no-progress")
    run("backfill_orders", "fake-shop", "--since", "2020-01-01", "--no-progress")
    events = list(AuditEvent.objects.filter(action="sync.started").order_by("pk"))
    assert [(e.via, e.details["job_type"], e.details["trigger"]) for e in events] == [
        ("command", "sync_orders", "command"), ("command", "backfill", "command")]
    assert events[0].actor_label.startswith("command sync (") and events[1].details["since"].startswith("2020-01-01")
    assert {e.organization_id for e in events} == {integration.organization_id}


def test_a_refused_range_names_the_option(integration, shop):
    with pytest.raises(CommandError, match=r"^--until: until must be after since\.$"):
        run("backfill_orders", "fake-shop", "--since", "2024-06-01", "--until", "2024-01-01", "--no-progress")
    with pytest.raises(CommandError, match=r"^--since: since is in the future\.$"):
        run("backfill_orders", "fake-shop", "--since", "2999-01-01", "--no-progress")
    with pytest.raises(CommandError, match=r"^--full: "):
        run("sync", "fake-shop", "--since", "2024-01-01", "--full", "--no-progress")
