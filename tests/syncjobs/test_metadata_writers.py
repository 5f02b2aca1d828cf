"""The order-export and backup jobs write their key of Integration.metadata and no other: a writer that saved
another key meanwhile (a token refresh, a health note, the other job) keeps its change."""

from __future__ import annotations

import threading

import pytest
from django.db import connection
from django.db.models.query import QuerySet

from integrations.metadata import integration_metadata_key_update
from integrations.models import Integration
from syncjobs import backups, order_exports
from tests.factories import IntegrationFactory


def backup_writer(integration):
    backups._remember(integration, {"stamp": "20241204T020000Z", "last_error": ""})


def export_writer(integration):
    order_exports._remember(integration, order_exports.ExportRun(pushed=[7], failed={8: "unknown product"}))


def refresh_writer(integration):  # a writer of its own key, as a token refresh or a health note is
    integration_metadata_key_update(integration_id=integration.pk, key="refresh",
                                    change=lambda previous: {**previous, "at": "now"})


WRITTEN = {
    backup_writer: ("backup", {"stamp": "20241204T020000Z", "last_error": "", "keep": "mine"}),
    export_writer: ("order_export", None),
    refresh_writer: ("refresh", {"at": "now"}),
}


def assert_written(metadata, writer):
    key, expected = WRITTEN[writer]
    if writer is export_writer:
        assert metadata[key]["pushed"] == 1 and metadata[key]["failed"] == {"8": "unknown product"}
    else:
        assert metadata[key] == expected


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("first", "second"), [
    (backup_writer, export_writer), (export_writer, backup_writer),
    (backup_writer, refresh_writer), (export_writer, refresh_writer),
], ids=lambda w: w.__name__)
def test_a_write_between_a_jobs_read_and_its_write_survives(first, second, monkeypatch):
    integration = IntegrationFactory(metadata={"account_name": "Shop", "backup": {"keep": "mine"}})
    real_update = QuerySet.update
    first_read, go, errors, holder = threading.Event(), threading.Event(), [], []

    def update(self, **kwargs):  # the first writer stops between reading metadata and writing it
        if self.model is Integration and holder and threading.current_thread() is holder[0]:
            first_read.set()
            assert go.wait(10)
        return real_update(self, **kwargs)

    monkeypatch.setattr(QuerySet, "update", update)

    def run(writer):
        try:
            writer(integration)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    one, two = threading.Thread(target=run, args=(first,)), threading.Thread(target=run, args=(second,))
    holder.append(one)
    one.start()
    assert first_read.wait(10)
    two.start()
    two.join(1.0)  # unguarded, it writes now; with the row lock, it waits for the first writer's commit
    go.set()
    one.join(10)
    two.join(10)

    assert errors == []
    metadata = Integration.objects.get(pk=integration.pk).metadata
    assert metadata["account_name"] == "Shop"
    assert_written(metadata, first)
    assert_written(metadata, second)


@pytest.mark.django_db
def test_one_key_is_written_and_the_others_are_left_as_the_database_has_them():
    integration = IntegrationFactory(metadata={"account_name": "Shop"})
    stale = Integration.objects.get(pk=integration.pk)  # what a job read before another writer saved a key
    Integration.objects.filter(pk=integration.pk).update(metadata={"account_name": "Shop", "token": {"n": 2}})

    export_writer(stale)
    order_exports._remember(stale, order_exports.ExportRun(found=[8], failed={9: "refused"}))

    metadata = Integration.objects.get(pk=integration.pk).metadata
    assert metadata["token"] == {"n": 2} and metadata["account_name"] == "Shop"
    assert metadata["order_export"]["failed"] == {"9": "refused"}  # 8 was found at the ERP: no longer failed


@pytest.mark.django_db
@pytest.mark.parametrize("stored", [[], "text", {"backup": "not an object"}])
def test_metadata_that_is_not_an_object_becomes_one(stored):
    integration = IntegrationFactory()
    Integration.objects.filter(pk=integration.pk).update(metadata=stored)
    backup_writer(integration)
    assert Integration.objects.get(pk=integration.pk).metadata["backup"] == {"stamp": "20241204T020000Z",
                                                                             "last_error": ""}


@pytest.mark.django_db
def test_an_integration_gone_is_no_error():
    assert integration_metadata_key_update(integration_id=987654, key="backup", change=lambda p: p) is None


# ---------------------------------------------------------------- keys whose value does not depend on the last one


@pytest.mark.django_db
def test_keys_set_and_removed_leave_a_key_saved_meanwhile():
    from integrations.metadata import integration_metadata_write

    integration = IntegrationFactory(metadata={"account_name": "Shop", "old_hook": "h1"})
    stale = Integration.objects.get(pk=integration.pk)
    Integration.objects.filter(pk=integration.pk).update(
        metadata={"account_name": "Shop", "old_hook": "h1", "token": {"n": 2}})

    integration_metadata_write(stale, values={"hook": "h2", "audiences": [{"id": "a"}]}, remove=["old_hook"])

    stored = Integration.objects.get(pk=integration.pk)
    assert stored.metadata == {"account_name": "Shop", "token": {"n": 2}, "hook": "h2", "audiences": [{"id": "a"}]}
    assert stale.metadata == {"account_name": "Shop", "hook": "h2", "audiences": [{"id": "a"}]}  # what it knew
    assert stored.updated_at == stale.updated_at


@pytest.mark.django_db
@pytest.mark.parametrize("stored", [[], "text", 7])
def test_keys_written_into_metadata_that_is_not_an_object(stored):
    from integrations.metadata import integration_metadata_write

    integration = IntegrationFactory()
    Integration.objects.filter(pk=integration.pk).update(metadata=stored)
    integration_metadata_write(integration, values={"hook": "h"}, remove=["gone"])
    assert Integration.objects.get(pk=integration.pk).metadata == {"hook": "h"}


@pytest.mark.django_db
def test_subscription_outcomes_leave_a_key_saved_meanwhile():
    from integrations.services import SUBSCRIPTIONS_KEY, _record_subscriptions

    integration = IntegrationFactory(metadata={"account_name": "Shop"})
    stale = Integration.objects.get(pk=integration.pk)
    Integration.objects.filter(pk=integration.pk).update(metadata={"account_name": "Shop", "token": {"n": 2}})
    _record_subscriptions(stale, {"status": "removed", "removed": 2})
    metadata = Integration.objects.get(pk=integration.pk).metadata
    assert metadata == {"account_name": "Shop", "token": {"n": 2}, SUBSCRIPTIONS_KEY: {"status": "removed",
                                                                                        "removed": 2}}
