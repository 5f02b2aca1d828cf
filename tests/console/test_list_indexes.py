"""Each filter of the big lists has an index that starts the way the filter reads the table within an organization
(a staff user's list is `organization IN (...)`), and the migrations create exactly the models' indexes."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection

from integrations.models import IntegrationLog
from syncjobs.models import SyncJob

# The call log admin's filters (and its date hierarchy) → the columns an index must lead with.
CALL_LOG_FILTERS = {
    "integration": ("integration",),  # an integration belongs to one organization
    "status class": ("organization", "status_code"),
    "direction": ("organization", "direction"),
    "action": ("organization", "action"),
    "date": ("organization", "created_at"),
}


def leading_columns(model) -> set[tuple[str, ...]]:
    """Every prefix of every index of `model` (a field's db_index counts as a one-column index)."""
    indexes = [tuple(name.lstrip("-") for name in index.fields) for index in model._meta.indexes]
    indexes += [(field.name,) for field in model._meta.fields if field.db_index and not field.primary_key]
    return {columns[:n] for columns in indexes for n in range(1, len(columns) + 1)}


@pytest.mark.parametrize("filter_name", sorted(CALL_LOG_FILTERS))
def test_every_call_log_filter_has_an_index_leading_with_its_columns(filter_name):
    assert CALL_LOG_FILTERS[filter_name] in leading_columns(IntegrationLog)


def test_the_sync_jobs_date_hierarchy_of_a_superuser_has_an_index():
    # A superuser's list is not scoped: MIN/MAX(created_at) and newest first need created_at on its own.
    assert ("created_at",) in leading_columns(SyncJob)


@pytest.mark.django_db
def test_the_migrations_create_the_models_indexes():
    out = StringIO()
    call_command("makemigrations", "integrations", "syncjobs", check=True, dry_run=True, stdout=out)


@pytest.mark.django_db
def test_the_indexes_exist_in_the_database():
    with connection.cursor() as cursor:
        found = set(connection.introspection.get_constraints(cursor, IntegrationLog._meta.db_table))
        found |= set(connection.introspection.get_constraints(cursor, SyncJob._meta.db_table))
    assert {"intlog_org_action_created", "intlog_org_status_created", "intlog_org_direction_created",
            "syncjob_created"} <= found
