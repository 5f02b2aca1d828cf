"""Writing one key of an Integration's `metadata` without losing what other writers put in the others.

Several writers share that JSON object: a token refresh, webhook registration, health, the order-export and
backup jobs. Reading the whole object, changing one key in Python and saving the whole object back loses
whatever another writer saved in between. Here the row is locked while the key's previous value is read (two
writers of the same key take turns, so a merge with the previous value sees the latest one), and only that key
is written, by the database (`jsonb_set` on PostgreSQL, `json_set` on SQLite), so the other keys are whatever
they are at the moment of the write.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import NotSupportedError, transaction
from django.db.models import F, Func, JSONField
from django.utils import timezone

from .models import Integration


class _WithKey(Func):
    """The JSON object in `metadata` with `key` set to `value` (a non-object becomes {} first)."""

    output_field = JSONField()

    def __init__(self, key: str, value: Any, source: Any = None):
        self.key, self.value = key, json.dumps(value, cls=DjangoJSONEncoder)
        super().__init__(F("metadata") if source is None else source)

    def as_postgresql(self, compiler, connection):
        column, params = compiler.compile(self.source_expressions[0])
        sql = (f"jsonb_set(CASE WHEN jsonb_typeof({column}) = 'object' THEN {column} ELSE '{{}}'::jsonb END, "
               "ARRAY[%s]::text[], %s::jsonb, true)")
        return sql, [*params, *params, self.key, self.value]

    def as_sqlite(self, compiler, connection):
        column, params = compiler.compile(self.source_expressions[0])
        sql = f"json_set(CASE WHEN json_type({column}) = 'object' THEN {column} ELSE '{{}}' END, %s, json(%s))"
        return sql, [*params, *params, f"$.{json.dumps(self.key)}", self.value]

    def as_sql(self, compiler, connection, **extra):
        raise NotSupportedError(f"Setting one metadata key is not written for {connection.vendor}.")


class _WithoutKey(Func):
    """The JSON object in `metadata` without `key` (a non-object becomes {})."""

    output_field = JSONField()

    def __init__(self, key: str, source: Any = None):
        self.key = key
        super().__init__(F("metadata") if source is None else source)

    def as_postgresql(self, compiler, connection):
        column, params = compiler.compile(self.source_expressions[0])
        return (f"(CASE WHEN jsonb_typeof({column}) = 'object' THEN {column} ELSE '{{}}'::jsonb END - %s)",
                [*params, *params, self.key])

    def as_sqlite(self, compiler, connection):
        column, params = compiler.compile(self.source_expressions[0])
        return (f"json_remove(CASE WHEN json_type({column}) = 'object' THEN {column} ELSE '{{}}' END, %s)",
                [*params, *params, f"$.{json.dumps(self.key)}"])

    def as_sql(self, compiler, connection, **extra):
        raise NotSupportedError(f"Removing a metadata key is not written for {connection.vendor}.")


def integration_metadata_write(integration: Integration, *, values: Mapping[str, Any] | None = None,
                               remove: Iterable[str] = ()) -> None:
    """Set the keys of `values` and drop those of `remove`, and no other key, in one UPDATE; the instance's
    `metadata` shows the change too. For a writer whose new value does not depend on the previous one (a
    registration id, a lookup's result): whatever `integration.metadata` the caller read long ago, a key another
    writer saved meanwhile stays."""
    values, remove = dict(values or {}), [key for key in remove if key not in (values or {})]
    expression: Any = None
    for key, value in values.items():
        expression = _WithKey(key, value, expression)
    for key in remove:
        expression = _WithoutKey(key, expression)
    if expression is None:
        return
    now = timezone.now()
    Integration.objects.filter(pk=integration.pk).update(metadata=expression, updated_at=now)
    current = integration.metadata if isinstance(integration.metadata, dict) else {}
    integration.metadata = {**{k: v for k, v in current.items() if k not in remove}, **values}
    integration.updated_at = now


def integration_metadata_key_update(*, integration_id: int, key: str,
                                    change: Callable[[dict[str, Any]], dict[str, Any]]) -> dict[str, Any] | None:
    """Set `metadata[key]` to `change(its previous value, {} when absent or not an object)`; the new value.

    None when the integration is gone. Call it outside a provider call: it holds the row lock until the
    surrounding transaction commits.
    """
    with transaction.atomic():
        # NO KEY: the lock a token refresh takes too; call log rows pointing at the integration are not held up.
        found = list(Integration.objects.select_for_update(no_key=True).filter(pk=integration_id)
                     .values_list("metadata", flat=True))
        if not found:
            return None
        metadata = found[0] if isinstance(found[0], dict) else {}
        previous = metadata.get(key) if isinstance(metadata.get(key), dict) else {}
        value = change(dict(previous))
        Integration.objects.filter(pk=integration_id).update(metadata=_WithKey(key, value))
    return value
