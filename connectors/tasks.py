"""Celery autodiscovery imports `<app>.tasks` of installed apps: this one imports each provider's `tasks_module`."""

from . import registry

registry.import_tasks_modules()
