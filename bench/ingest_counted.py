"""config.wsgi's application, answering each request with the SQL statements it ran (X-Bench-Statements).

bench/ingest.py runs it in a short pass of its own, after the timed rounds, to print statements per webhook.
"""

from __future__ import annotations

import threading

from django.db.backends.signals import connection_created

from config.wsgi import application as _application  # noqa: I001 - sets Django up first

_count = threading.local()


def _counter(execute, sql, params, many, context):
    _count.n = getattr(_count, "n", 0) + 1
    return execute(sql, params, many, context)


def _install(sender, connection, **kwargs):
    connection.execute_wrappers.append(_counter)


connection_created.connect(_install, weak=False)


def application(environ, start_response):
    _count.n = 0

    def counted_start(status, headers, exc_info=None):
        return start_response(status, [*headers, ("X-Bench-Statements", str(_count.n))], exc_info)

    body = b"".join(_application(environ, counted_start))  # the view runs (and counts) before start_response
    return [body]
