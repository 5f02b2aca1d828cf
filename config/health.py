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


def _check_broker() -> str | None:
    from config.celery import app

    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
    except Exception as exc:  # noqa: BLE001
        return f"broker unreachable: {exc.__class__.__name__}"
    return None


@require_GET
def ready(request):
    """Ready to serve: database reachable, broker reachable, no unapplied migrations; else 503 naming the check."""
    checks = {"database": _check_database(), "broker": _check_broker(), "migrations": None}
    if checks["database"] is None:
        checks["migrations"] = _check_migrations()
    failing = {name: problem for name, problem in checks.items() if problem}
    body = {"status": "unready" if failing else "ready", "checks": {n: (p or "ok") for n, p in checks.items()}}
    return JsonResponse(body, status=503 if failing else 200)
