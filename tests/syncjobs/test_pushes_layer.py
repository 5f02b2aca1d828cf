"""The channel pushes live in the pipeline layer under the task names they always had; commerce only names them."""

from __future__ import annotations

import ast
from pathlib import Path

from commerce import outbox
from config.celery import app

COMMERCE = Path(__file__).resolve().parents[2] / "commerce"


def test_the_push_and_repull_tasks_keep_their_names_for_queued_messages_and_beat():
    names = {outbox.PUSH_INVENTORY_TASK, outbox.PUSH_FULFILLMENT_TASK, outbox.SWEEP_PUSHES_TASK,
             outbox.REPULL_ORDER_TASK}
    assert names == {f"commerce.tasks.{n}" for n in ("push_inventory", "push_fulfillment", "sweep_pending_pushes",
                                                     "repull_order")}
    for name in names:
        assert app.tasks[name].__module__ == "syncjobs.tasks"
        assert outbox.outbox_task(name) is app.tasks[name]


def test_commerce_imports_nothing_from_syncjobs():
    # (It still imports webhooks.events to publish order and stock events: that bus has to move below commerce.)
    for path in COMMERCE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            modules = ([a.name for a in node.names] if isinstance(node, ast.Import)
                       else [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else [])
            assert not [m for m in modules if m.split(".")[0] == "syncjobs"], path
