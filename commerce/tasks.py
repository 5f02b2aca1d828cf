"""Moved: the channel push and re-pull tasks run in the pipeline layer (`syncjobs.tasks`), under these names.

Kept only so that `from commerce.tasks import repull_order` in the commerce
admin (which moves to console/, where it can import syncjobs.tasks) still
resolves: an attribute is the task registered under `commerce.tasks.<name>`,
looked up by name, so commerce imports nothing above it. Delete this module
once nothing imports it.
"""

from __future__ import annotations

from typing import Any

from celery import current_app


def __getattr__(name: str) -> Any:
    try:
        return current_app.tasks[f"{__name__}.{name}"]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
