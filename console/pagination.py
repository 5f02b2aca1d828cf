"""Admin changelists that stay fast on tables of millions of rows (IntegrationLog).

Django's changelist costs three kinds of query that grow with the table: the
paginator's COUNT(*), the date hierarchy's SELECT DISTINCT of truncated dates,
and list filters that SELECT DISTINCT a column's values. Here:

- `LargeTablePaginator` never counts the whole table: unfiltered on
  PostgreSQL it reads the planner's estimate (pg_class.reltuples); otherwise it
  counts at most `count_cap` rows, `SELECT COUNT(*) FROM (SELECT … LIMIT n)`.
  Page links stop at `max_pages`, so no page needs an OFFSET deeper than that.
- `LargeTableChangeList` draws the date hierarchy from one MIN/MAX aggregate of
  the (filtered) queryset, which PostgreSQL and SQLite answer from the index on
  the date column, and lists the calendar years/months/days in that range
  instead of asking the database which ones hold rows. A link may therefore
  lead to an empty period; that is the price of not scanning the table.
- The filters below offer fixed choices (status classes) or choices read from a
  bounded slice of recent rows, and filter on indexed columns.
"""

from __future__ import annotations

import calendar
from datetime import date

from django.contrib import admin
from django.contrib.admin.views.main import ChangeList
from django.core.paginator import Paginator
from django.db import connections
from django.db.models import Max, Min
from django.utils import formats, timezone
from django.utils.functional import cached_property
from django.utils.text import capfirst


class LargeTablePaginator(Paginator):
    """A paginator whose count is an estimate or a capped count, never a full COUNT(*)."""

    count_cap = 10_000
    max_pages = 100

    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        if not queryset.query.where and not queryset.query.is_sliced:
            estimate = self._planner_estimate(queryset)
            if estimate is not None and estimate > self.count_cap:
                return estimate
        return queryset.order_by().values("pk")[: self.count_cap + 1].count()

    @cached_property
    def num_pages(self) -> int:
        pages = super().num_pages
        return min(pages, self.max_pages)

    @staticmethod
    def _planner_estimate(queryset) -> int | None:
        """The row count PostgreSQL's planner keeps for the table (refreshed by ANALYZE/autovacuum)."""
        connection = connections[queryset.db]
        if connection.vendor != "postgresql":
            return None
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT reltuples::bigint FROM pg_class WHERE oid = to_regclass(%s)",
                [connection.ops.quote_name(queryset.model._meta.db_table)],
            )
            row = cursor.fetchone()
        # -1 (PostgreSQL 14+) or 0: never analyzed; fall back to a capped count.
        return int(row[0]) if row and row[0] and row[0] > 0 else None


def _local(value):
    return timezone.localtime(value) if timezone.is_aware(value) else value


class LargeTableChangeList(ChangeList):
    """A ChangeList whose `date_hierarchy_choices` come from one MIN/MAX aggregate (see the module docstring)."""

    @cached_property
    def date_hierarchy_choices(self) -> dict:
        field = self.date_hierarchy
        if not field:
            return {"show": False}
        year = self.params.get(f"{field}__year")
        month = self.params.get(f"{field}__month")
        day = self.params.get(f"{field}__day")

        def link(filters):
            return self.get_query_string(filters, [f"{field}__"])

        def fmt(value, fmt_name):
            return capfirst(formats.date_format(value, fmt_name))

        bounds = self.queryset.aggregate(first=Min(field), last=Max(field))
        if bounds["first"] is None:
            return {"show": True, "back": None, "choices": []}
        first, last = _local(bounds["first"]), _local(bounds["last"])
        if not (year or month or day) and first.year == last.year:
            year = first.year
            if first.month == last.month:
                month = first.month
        try:
            year, month, day = (int(v) if v else None for v in (year, month, day))
        except ValueError:
            return {"show": False}

        if year and month and day:
            current = date(year, month, day)
            return {
                "show": True,
                "back": {"link": link({f"{field}__year": year, f"{field}__month": month}),
                         "title": fmt(current, "YEAR_MONTH_FORMAT")},
                "choices": [{"title": fmt(current, "MONTH_DAY_FORMAT")}],
            }
        if year and month:
            days = range(
                first.day if (first.year, first.month) == (year, month) else 1,
                (last.day if (last.year, last.month) == (year, month) else calendar.monthrange(year, month)[1]) + 1,
            )
            return {
                "show": True,
                "back": {"link": link({f"{field}__year": year}), "title": str(year)},
                "choices": [
                    {"link": link({f"{field}__year": year, f"{field}__month": month, f"{field}__day": d}),
                     "title": fmt(date(year, month, d), "MONTH_DAY_FORMAT")}
                    for d in days
                ],
            }
        if year:
            months = range(first.month if first.year == year else 1, (last.month if last.year == year else 12) + 1)
            return {
                "show": True,
                "back": {"link": link({}), "title": "All dates"},
                "choices": [
                    {"link": link({f"{field}__year": year, f"{field}__month": m}),
                     "title": fmt(date(year, m, 1), "YEAR_MONTH_FORMAT")}
                    for m in months
                ],
            }
        return {
            "show": True,
            "back": None,
            "choices": [{"link": link({f"{field}__year": str(y)}), "title": str(y)}
                        for y in range(first.year, last.year + 1)],
        }


class StatusClassFilter(admin.SimpleListFilter):
    """HTTP status by class (2xx … 5xx, none): a range on the indexed status_code column."""

    title = "status"
    parameter_name = "status_class"

    def lookups(self, request, model_admin):
        return [("2", "2xx"), ("3", "3xx"), ("4", "4xx"), ("5", "5xx"), ("none", "No response")]

    def queryset(self, request, queryset):
        value = self.value()
        if value == "none":
            return queryset.filter(status_code__isnull=True)
        if value in {"2", "3", "4", "5"}:
            low = int(value) * 100
            return queryset.filter(status_code__gte=low, status_code__lt=low + 100)
        return queryset


class RecentValuesFilter(admin.SimpleListFilter):
    """Choices from the distinct values among the most recent `sample_size` rows (an indexed, bounded read).

    A plain list filter would SELECT DISTINCT the column over the whole table.
    A value not seen recently can still be filtered on through the URL.
    """

    field_name = ""
    order_by = "-created_at"
    sample_size = 2_000

    def lookups(self, request, model_admin):
        recent = (
            model_admin.get_queryset(request)
            .order_by(self.order_by)
            .values_list(self.field_name, flat=True)[: self.sample_size]
        )
        values = sorted({v for v in recent if v})
        current = self.value()
        if current and current not in values:
            values.append(current)
        return [(v, v) for v in values]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(**{self.field_name: self.value()})
        return queryset
