"""Celery autodiscovery imports `<app>.tasks` of installed apps; provider task modules are registered here."""

from connectors.fancourier import tasks as fancourier_tasks  # noqa: F401
