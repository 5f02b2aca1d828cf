"""A million IntegrationLog rows in one INSERT … SELECT generate_series (PostgreSQL), for the scale test and
bench/admin_scale.py.

Rows alternate between the given integrations, one second apart going back
from now (a million rows span about eleven and a half days), each integration
with every action; one call in 50 is a 500, one in 20 a 429, one in 10 inbound. ANALYZE afterwards, as autovacuum
would, so the planner (and the paginator's estimate) know the table's size.
"""

from __future__ import annotations

from django.db import connection

from integrations.models import Integration, IntegrationLog

SEED_SQL = """
INSERT INTO {table} (integration_id, organization_id, action, direction, method, endpoint, request, response,
                     status_code, duration_ms, error_message, metadata, created_at)
SELECT ids.integration_id[1 + g %% %(n)s], ids.organization_id[1 + g %% %(n)s],
       (ARRAY['list_orders', 'list_products', 'list_inventory', 'refresh_token'])[1 + (g / 2) %% 4],
       CASE WHEN g %% 10 = 0 THEN 'inbound' ELSE 'outbound' END, 'GET',
       '/admin/api/2024-01/orders.json?page_info=' || g, '{{}}'::jsonb, '{{"status": 200}}'::jsonb,
       CASE WHEN g %% 50 = 0 THEN 500 WHEN g %% 20 = 0 THEN 429 ELSE 200 END, g %% 900,
       CASE WHEN g %% 50 = 0 THEN 'HTTP 500' ELSE '' END, '{{}}'::jsonb,
       now() - make_interval(secs => g)
FROM generate_series(1, %(rows)s) AS g,
     (SELECT %(integration_ids)s::bigint[] AS integration_id, %(organization_ids)s::bigint[] AS organization_id) AS ids
"""


def seed_integration_logs(integrations: list[Integration], rows: int = 1_000_000) -> None:
    table = connection.ops.quote_name(IntegrationLog._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(SEED_SQL.format(table=table), {
            "rows": rows, "n": len(integrations),
            "integration_ids": [i.pk for i in integrations],
            "organization_ids": [i.organization_id for i in integrations],
        })
        cursor.execute(f"ANALYZE {table}")
