"""The same-run reference of the write benches: PostgreSQL COPY of the same order and line rows.

`CopyReference(organization).copy(order_ids)` reads back orders an import wrote
(and their lines), untimed, and writes them again with two COPY statements
(orders, then lines) into a reference integration of the same organization, in
one transaction, timed: the fastest way PostgreSQL takes those rows, with the
same tables, indexes and constraints. Order ids for the copies are reserved
from the table's sequence up front (outside the timing), as a loader that
knows its ids would. What the reference does not do (and the import must):
parse and check records, find what exists, merge with it, keep refs and stock,
publish events.
"""

from __future__ import annotations

import time
from collections.abc import Sequence


class CopyReference:
    def __init__(self, organization, *, code: str = "bench-copy-reference"):
        from commerce.models import Order, OrderLine
        from integrations.models import Integration

        self.integration = Integration.objects.create(
            organization=organization, name="COPY reference", code=code, type="ecommerce", provider="sandbox",
            status="inactive",
        )
        skip = {"id"}
        self.order_columns = [f.attname for f in Order._meta.concrete_fields if f.attname not in skip]
        self.line_columns = [f.attname for f in OrderLine._meta.concrete_fields if f.attname not in skip]
        self.json_orders = {i for i, c in enumerate(self.order_columns)
                            if Order._meta.get_field(c).get_internal_type() == "JSONField"}
        self.seconds = 0.0
        self.orders = self.lines = 0

    def _reserve_ids(self, count: int) -> int:
        from django.db import connection

        from commerce.models import Order

        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [Order._meta.db_table])
            sequence = cursor.fetchone()[0]
            cursor.execute("SELECT nextval(%s) FROM generate_series(1, %s)", [sequence, count])
            return cursor.fetchall()[0][0]

    def copy(self, order_ids: Sequence[int]) -> float:
        """COPY the orders with these ids (and their lines) again; returns the seconds the COPY took."""
        from django.db import connection, transaction
        from psycopg.types.json import Jsonb

        from commerce.models import Order, OrderLine

        orders = list(Order.objects.filter(pk__in=order_ids).order_by("pk").values_list("pk", *self.order_columns))
        lines = list(OrderLine.objects.filter(order_id__in=order_ids).values_list(*self.line_columns))
        first = self._reserve_ids(len(orders))
        new_id = {old: first + n for n, (old, *_) in enumerate(orders)}
        integration_at = self.order_columns.index("integration_id")
        external_at = self.order_columns.index("external_id")
        order_rows = []
        for old, *values in orders:
            values[integration_at] = self.integration.pk
            values[external_at] = f"{values[external_at]}"
            order_rows.append([new_id[old], *(Jsonb(v) if i in self.json_orders else v for i, v in enumerate(values))])
        order_at = self.line_columns.index("order_id")
        line_rows = []
        for values in lines:
            values = list(values)
            values[order_at] = new_id[values[order_at]]
            line_rows.append(values)
        quote = connection.ops.quote_name
        order_sql = (f"COPY {quote(Order._meta.db_table)} (id, "
                     f"{', '.join(quote(Order._meta.get_field(c).column) for c in self.order_columns)}) FROM STDIN")
        line_sql = (f"COPY {quote(OrderLine._meta.db_table)} "
                    f"({', '.join(quote(OrderLine._meta.get_field(c).column) for c in self.line_columns)}) FROM STDIN")
        started = time.perf_counter()
        with transaction.atomic(), connection.cursor() as cursor:
            with cursor.cursor.copy(order_sql) as copy:
                for row in order_rows:
                    copy.write_row(row)
            with cursor.cursor.copy(line_sql) as copy:
                for row in line_rows:
                    copy.write_row(row)
        seconds = time.perf_counter() - started
        self.seconds += seconds
        self.orders += len(order_rows)
        self.lines += len(line_rows)
        return seconds

    @property
    def rate(self) -> float:
        return self.orders / self.seconds if self.seconds else 0.0

    def counts(self) -> tuple[int, int]:
        """(orders, lines) the reference integration holds, counted in the database."""
        from commerce.models import Order, OrderLine

        return (Order.objects.filter(integration=self.integration).count(),
                OrderLine.objects.filter(order__integration=self.integration).count())
