"""Loaded inside real processes (web, workers, beat) by tests/e2e/workers.py: a line per message sent and finished.

Each line of FLIGHT_LOG is JSON `[unix time, "sent" | "started" | "finished", task name, first argument]`, for
the tasks that take a row id (a webhook's, a sync job's). "sent" is written before the message reaches the broker
and "finished" after the task ran, so a count of sent minus finished at any moment is never below the number of
messages really in flight: a test that finds it at most 1 has shown at most one message in flight per row.
Nothing here imports Django, so it loads before the app does.
"""

from __future__ import annotations

import json
import os
import time

from celery.signals import before_task_publish, task_postrun, task_prerun

WATCHED = frozenset({"webhooks.inbound.tasks.process_incoming_webhook", "syncjobs.tasks.run_sync_job"})
# A message carrying several rows (a web process's batch of processing nudges) is a message for each of them.
BATCHES = {"webhooks.inbound.tasks.process_incoming_webhooks": "webhooks.inbound.tasks.process_incoming_webhook"}


def _write(kind: str, task: str, args) -> None:
    if task in BATCHES:
        task, rows = BATCHES[task], list(args[0]) if args else []
    else:
        rows = [args[0] if args else None]
    lines = "".join(json.dumps([time.time(), kind, task, row]) + "\n" for row in rows)
    with open(os.environ["FLIGHT_LOG"], "a", encoding="utf-8") as log:  # O_APPEND: one small write per batch
        log.write(lines)


def _sent(sender=None, body=None, **kwargs) -> None:
    if sender in WATCHED or sender in BATCHES:
        _write("sent", sender, body[0] if isinstance(body, (list, tuple)) and body else ())


def _started(task=None, args=None, **kwargs) -> None:
    if task is not None and (task.name in WATCHED or task.name in BATCHES):
        _write("started", task.name, args)


def _finished(task=None, args=None, **kwargs) -> None:
    if task is not None and (task.name in WATCHED or task.name in BATCHES):
        _write("finished", task.name, args)


def install() -> None:
    before_task_publish.connect(_sent, weak=False)
    task_prerun.connect(_started, weak=False)
    task_postrun.connect(_finished, weak=False)


def read(path) -> list[tuple[float, str, str, int | None]]:
    """The log's events in time order."""
    with open(path, encoding="utf-8") as log:
        return sorted(tuple(json.loads(line)) for line in log if line.strip())


def most_in_flight(events, task: str) -> dict[int, int]:
    """Per row id, the most messages of `task` sent and not yet finished at any moment."""
    current: dict[int, int] = {}
    most: dict[int, int] = {}
    for _, kind, name, row in events:
        if name != task or kind == "started":
            continue
        current[row] = current.get(row, 0) + (1 if kind == "sent" else -1)
        most[row] = max(most.get(row, 0), current[row])
    return most
