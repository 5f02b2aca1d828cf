"""Per-integration schedules per job type: their defaults, when they are due, editing them, racing beats, and the
migration of the old single interval."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from config.errors import ValidationError
from syncjobs import scheduler
from syncjobs.cadences import CADENCES, CHECK_HEALTH, cadences_for
from syncjobs.models import JobStatus, SyncJob, SyncSchedule
from syncjobs.schedules import schedule_list, schedule_update, schedules_ensure
from tests.factories import IntegrationFactory
from tests.syncjobs import fakes

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def schedules(integration) -> dict[str, SyncSchedule]:
    return {row.job_type: row for row in SyncSchedule.objects.filter(integration=integration)}


@pytest.fixture
def health_sent(monkeypatch):
    sent: list[int] = []
    monkeypatch.setattr(scheduler, "nudge_on_commit", lambda task, args, *rest, **options: sent.append(args[0]))
    return sent


def finish(*jobs) -> None:
    SyncJob.objects.filter(pk__in=[job.pk for job in jobs]).update(status=JobStatus.COMPLETED)


# ---------------------------------------------------------------------- defaults
def test_a_new_integration_gets_the_seed_cadence_of_each_job_type_its_provider_runs(org, shop):
    integration = IntegrationFactory(organization=org, provider="fakeshop")
    every = {job_type: row.every_minutes for job_type, row in schedules(integration).items()}
    assert every == {"sync_products": 360, "sync_inventory": 120, "sync_orders": 60, "sync_order_status": 30,
                     CHECK_HEALTH: 15}
    assert all(row.enabled and row.next_due_at is None for row in schedules(integration).values())
    assert [row.job_type for row in schedule_list(integration=integration)] == list(every)  # the table's order


def test_only_job_types_the_provider_runs_get_a_schedule(org, shop, monkeypatch):
    assert [c.job_type for c in cadences_for("fancourier")] == [CHECK_HEALTH]  # a courier pulls nothing
    assert cadences_for("no-such-provider") == []
    assert {c.job_type: c.every_minutes for c in cadences_for("onec")} == {  # an ERP: hourly, its own default
        "sync_products": 60, "sync_inventory": 60, CHECK_HEALTH: 15}
    monkeypatch.setattr(fakes.FakeConnector, "capabilities", frozenset({"orders"}))
    integration = IntegrationFactory(organization=org, provider="fakeshop")
    assert set(schedules(integration)) == {"sync_orders", "sync_order_status", CHECK_HEALTH}


def test_a_provider_may_declare_its_own_default_and_a_new_job_type_reaches_existing_integrations(org, shop,
                                                                                                 monkeypatch):
    integration = IntegrationFactory(organization=org, provider="fakeshop")
    monkeypatch.setattr(fakes.FakeConnector, "schedule_minutes", {"sync_products": 60})
    assert {c.job_type: c.every_minutes for c in cadences_for("fakeshop")}["sync_products"] == 60
    SyncSchedule.objects.filter(integration=integration, job_type="sync_orders").delete()  # as if it were new
    assert schedules_ensure() == 1
    assert schedules(integration)["sync_orders"].every_minutes == 60
    assert schedules(integration)["sync_products"].every_minutes == 360  # an existing row keeps its interval


# ---------------------------------------------------------------------- due or not
def test_each_job_type_runs_on_its_own_clock(org, shop, enqueued, health_sent):
    integration = IntegrationFactory(organization=org, provider="fakeshop", auto_sync_enabled=True)
    IntegrationFactory(organization=org, provider="fakeshop", auto_sync_enabled=False)  # syncs stay manual
    with time_machine.travel(T0, tick=False):
        run = scheduler.syncs_run_due()
    started = {job.job_type: job for job in SyncJob.objects.filter(integration=integration)}
    assert set(started) == {"sync_products", "sync_orders", "sync_order_status"}
    assert sorted(run.started) == sorted(job.pk for job in started.values())
    rows = schedules(integration)
    assert rows["sync_inventory"].last_result.startswith("waiting for sync_products")  # its products come first
    assert rows["sync_inventory"].next_due_at == T0 + timedelta(minutes=1)
    assert rows["sync_orders"].next_due_at == T0 + timedelta(hours=1)
    assert rows["sync_orders"].last_job == started["sync_orders"] and rows["sync_orders"].last_result == "started"
    assert health_sent.count(integration.pk) == 1  # and the manual one's health too: health is not a sync
    integration.refresh_from_db()
    assert integration.next_sync_at == T0 + timedelta(minutes=1)  # its earliest sync schedule

    finish(*started.values())
    with time_machine.travel(T0 + timedelta(minutes=2), tick=False):
        scheduler.syncs_run_due()
    assert SyncJob.objects.filter(integration=integration, job_type="sync_inventory").count() == 1
    with time_machine.travel(T0 + timedelta(minutes=29), tick=False):
        assert scheduler.syncs_run_due().started == []  # nothing due yet
    with time_machine.travel(T0 + timedelta(minutes=31), tick=False):
        run = scheduler.syncs_run_due()
    assert [SyncJob.objects.get(pk=pk).job_type for pk in run.started] == ["sync_order_status"]
    with time_machine.travel(T0 + timedelta(minutes=61), tick=False):
        run = scheduler.syncs_run_due()
    # order status is still pending (no worker here): skipped, and it waits a full interval again
    assert [SyncJob.objects.get(pk=pk).job_type for pk in run.started] == ["sync_orders"]
    assert schedules(integration)["sync_order_status"].next_due_at == T0 + timedelta(minutes=91)
    assert "already pending" in schedules(integration)["sync_order_status"].last_result


def test_a_disabled_schedule_and_an_inactive_integration_start_nothing(org, shop, enqueued, health_sent):
    integration = IntegrationFactory(organization=org, provider="fakeshop", auto_sync_enabled=True)
    SyncSchedule.objects.filter(integration=integration).exclude(job_type="sync_orders").update(enabled=False)
    IntegrationFactory(organization=org, provider="fakeshop", auto_sync_enabled=True, status="inactive")
    errored = IntegrationFactory(organization=org, provider="fakeshop", auto_sync_enabled=True, status="error")
    scheduler.syncs_run_due(now=T0)
    assert list(SyncJob.objects.values_list("integration_id", "job_type")) == [(integration.pk, "sync_orders")]
    assert health_sent == [errored.pk]  # a passing check is how an integration in error comes back


def test_a_finished_job_restarts_its_schedules_clock(org, shop, writer, enqueued):
    from syncjobs import services

    integration = IntegrationFactory(organization=org, provider="fakeshop", auto_sync_enabled=True)
    with time_machine.travel(T0, tick=False):
        job = services.sync_job_start(integration=integration, trigger="api", job_type="sync_orders")
    with time_machine.travel(T0 + timedelta(minutes=10), tick=False):
        services.sync_job_run(job_id=job.pk, writers=writer.writers())
    assert SyncJob.objects.get(pk=job.pk).status == JobStatus.COMPLETED
    assert schedules(integration)["sync_orders"].next_due_at == T0 + timedelta(minutes=70)  # a manual sync too


# ---------------------------------------------------------------------- editing
def test_a_new_interval_moves_the_next_due_time(org, shop, enqueued, health_sent):
    integration = IntegrationFactory(organization=org, provider="fakeshop", auto_sync_enabled=True)
    scheduler.syncs_run_due(now=T0)
    products = schedules(integration)["sync_products"]
    assert products.next_due_at == T0 + timedelta(hours=6)
    products = schedule_update(schedule=products, every_minutes=120, now=T0 + timedelta(minutes=30))
    assert products.next_due_at == T0 + timedelta(hours=2)
    products = schedule_update(schedule=products, every_minutes=20, now=T0 + timedelta(minutes=30))
    assert products.next_due_at == T0 + timedelta(minutes=30)  # already past: due now
    with pytest.raises(ValidationError):
        schedule_update(schedule=products, every_minutes=0)
    assert SyncSchedule.objects.get(pk=products.pk).every_minutes == 20


# ---------------------------------------------------------------------- racing schedulers
def test_a_schedule_another_scheduler_took_meanwhile_is_not_started_again(org, shop, enqueued, health_sent,
                                                                          monkeypatch):
    IntegrationFactory(organization=org, provider="fakeshop", auto_sync_enabled=True)
    real_claimable, other = scheduler.claimable, {}

    def claimable_after_the_other_beat(queryset, **kwargs):
        if not other:  # the other beat runs between our listing and our first claim
            monkeypatch.setattr(scheduler, "claimable", real_claimable)
            other["run"] = scheduler.syncs_run_due(now=T0)
        return real_claimable(queryset, **kwargs)

    monkeypatch.setattr(scheduler, "claimable", claimable_after_the_other_beat)
    ours = scheduler.syncs_run_due(now=T0)
    assert len(other["run"].started) == 3 and ours.started == [] and ours.skipped == []
    assert SyncJob.objects.count() == 3 and len(health_sent) == 1


@pytest.mark.django_db(transaction=True)
def test_two_beats_at_the_same_instant_start_each_schedule_once(org, shop, enqueued, health_sent):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: SQLite serialises the two claims (the test above covers the order)")
    integrations = [IntegrationFactory(organization=org, provider="fakeshop", auto_sync_enabled=True)
                    for _ in range(5)]
    barrier, runs = threading.Barrier(2), []

    def beat():
        try:
            barrier.wait()
            runs.append(scheduler.syncs_run_due(now=T0))
        finally:
            connection.close()

    threads = [threading.Thread(target=beat) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    started = [pk for run in runs for pk in run.started]
    assert len(started) == len(set(started)) == SyncJob.objects.count() == 3 * len(integrations)
    assert sorted(health_sent) == sorted(i.pk for i in integrations)  # one health check each, not two
    assert all(not run.skipped or set(run.skipped) <= {i.pk for i in integrations} for run in runs)


@pytest.mark.django_db(transaction=True)
def test_a_beat_never_takes_part_of_an_integration_another_beat_is_starting(org, shop, enqueued, health_sent,
                                                                           monkeypatch):
    """Inventory waits for products: the beat that starts an integration's products must be the one that sees
    its inventory schedule, so another beat at the same instant takes none of that integration's schedules."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: SQLite serialises the two claims")
    integration = IntegrationFactory(organization=org, provider="fakeshop", auto_sync_enabled=True)
    real_claimable, inside, go = scheduler.claimable, threading.Event(), threading.Event()
    first_beat = []

    def claimable_row_by_row(queryset, **kwargs):  # the first beat's claim has locked the products row so far
        if threading.current_thread() in first_beat and not inside.is_set():
            list(real_claimable(queryset.filter(job_type="sync_products"), **kwargs))
            inside.set()
            assert go.wait(10)
        return real_claimable(queryset, **kwargs)

    monkeypatch.setattr(scheduler, "claimable", claimable_row_by_row)

    def beat():
        try:
            scheduler.syncs_run_due(now=T0)
        finally:
            connection.close()

    first = threading.Thread(target=beat)
    first_beat.append(first)
    first.start()
    assert inside.wait(10)
    scheduler.syncs_run_due(now=T0)  # the second beat, while the first holds the integration
    assert not SyncJob.objects.filter(integration=integration).exists()
    go.set()
    first.join(10)
    jobs = sorted(SyncJob.objects.filter(integration=integration).values_list("job_type", flat=True))
    assert jobs == ["sync_order_status", "sync_orders", "sync_products"]  # inventory waits for products
    assert SyncSchedule.objects.get(integration=integration, job_type="sync_inventory").last_result.startswith(
        "waiting for sync_products")


# ---------------------------------------------------------------------- the migration of the old interval
BEFORE = [("syncjobs", "0007_sync_schedules")]
AFTER = [("syncjobs", "0008_schedules_from_intervals")]


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True)
def test_the_old_interval_becomes_the_schedules_it_stood_for(shop):
    try:
        old = _migrate(BEFORE)
        org = old.get_model("accounts", "Organization").objects.create(name="Old", slug="old-org")
        Integration = old.get_model("integrations", "Integration")

        def integration(code, provider="fakeshop", **fields):
            return Integration.objects.create(organization=org, name=code, code=code, route_key=code,
                                              type="ecommerce", provider=provider, **fields)

        hourly = integration("hourly", sync_interval_minutes=45, auto_sync_enabled=True, next_sync_at=T0)
        manual = integration("manual", sync_interval_minutes=0)
        courier = integration("courier", provider="fancourier", sync_interval_minutes=30)
        gone = integration("gone", provider="no-such-provider", sync_interval_minutes=30)
        new = _migrate(AFTER)
        SyncSchedule_ = new.get_model("syncjobs", "SyncSchedule")

        def rows(integration):
            return {r.job_type: (r.every_minutes, r.enabled, r.next_due_at)
                    for r in SyncSchedule_.objects.filter(integration_id=integration.pk)}

        assert rows(hourly) == {"sync_products": (45, True, T0), "sync_inventory": (45, True, T0),
                                "sync_orders": (45, True, T0), "sync_order_status": (30, False, None),
                                CHECK_HEALTH: (15, True, None)}
        assert rows(manual) == {key: (CADENCES[key].every_minutes, key == CHECK_HEALTH, None)
                                for key in ("sync_products", "sync_inventory", "sync_orders", "sync_order_status",
                                            CHECK_HEALTH)}
        assert rows(courier) == {CHECK_HEALTH: (15, True, None)}
        assert rows(gone) == {}
        assert not new.get_model("django_celery_beat", "PeriodicTask").objects.filter(
            task="syncjobs.tasks.check_integrations_health").exists()

        back = _migrate(BEFORE)
        assert back.get_model("integrations", "Integration").objects.get(pk=hourly.pk).sync_interval_minutes == 45
        assert back.get_model("django_celery_beat", "PeriodicTask").objects.filter(
            task="syncjobs.tasks.check_integrations_health").exists()
    finally:
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(executor.loader.graph.leaf_nodes())
