"""Liveness and readiness probes for load balancers and orchestrators."""

from __future__ import annotations

from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.http import JsonResponse
from django.views.decorators.http import require_GET


@require_GET
def health(request):
    """The process answers: nothing else is checked, so a slow database never restarts the web process."""
    return JsonResponse({"status": "ok"})


def _check_database() -> str | None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:  # noqa: BLE001 - any failure means not ready
        return f"database unreachable: {exc.__class__.__name__}"
    return None


def _check_migrations() -> str | None:
    try:
        executor = MigrationExecutor(connection)
        pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except Exception as exc:  # noqa: BLE001
        return f"migrations unknown: {exc.__class__.__name__}"
    return f"{len(pending)} unapplied migration(s)" if pending else None


# A probe must answer within the orchestrator's timeout: one attempt, bounded socket waits.
BROKER_PROBE_TIMEOUT_SECONDS = 2.0


def _check_broker() -> str | None:
    from config.celery import app

    timeout = BROKER_PROBE_TIMEOUT_SECONDS
    try:
        with app.connection_for_write(
            connect_timeout=timeout, transport_options={"socket_connect_timeout": timeout, "socket_timeout": timeout}
        ) as conn:
            conn.ensure_connection(max_retries=0)
    except Exception as exc:  # noqa: BLE001
        return f"broker unreachable: {exc.__class__.__name__}"
    return None


@require_GET
def ready(request):
    """Ready to serve: database reachable, broker reachable, no unapplied migrations; else 503 naming the check."""
    checks = {"database": _check_database(), "broker": _check_broker(), "migrations": None}
    # Without a database the migration state is unknown, not "ok".
    checks["migrations"] = _check_migrations() if checks["database"] is None else "not checked: no database"
    failing = {name: problem for name, problem in checks.items() if problem}
    body = {"status": "unready" if failing else "ready", "checks": {n: (p or "ok") for n, p in checks.items()}}
    return JsonResponse(body, status=503 if failing else 200)
