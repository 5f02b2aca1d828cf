"""Claiming due rows for one worker among many: how the pipelines select the rows they are about to lease.

On PostgreSQL a claim selects `FOR UPDATE SKIP LOCKED`, so concurrent
claimers pass over each other's rows instead of queueing on them. SQLite has
no row locks: the claim first takes the database's single write lock (a no-op
UPDATE, which waits the busy timeout), so nothing another process commits can
slip between what the claimer reads and what it leases, and its reads never
see a stale snapshot; claimers are serialised instead.

Use it inside the claim's transaction, and lease (or update) what it returns
before that transaction ends.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import connection
from django.db.models import F, QuerySet


def claimable(queryset: QuerySet, *, of: Sequence[str] = ("self",)) -> QuerySet:
    """`queryset` locked for this transaction, skipping rows another claimer holds (`of`: whose rows to lock
    when the query joins others)."""
    if connection.vendor != "postgresql":
        pk = queryset.model._meta.pk.name
        queryset.model._base_manager.filter(**{f"{pk}__isnull": True}).update(**{pk: F(pk)})
        return queryset
    return queryset.select_for_update(skip_locked=True, of=tuple(of))
