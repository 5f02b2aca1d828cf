from django.apps import AppConfig


class SyncjobsConfig(AppConfig):
    name = "syncjobs"
    verbose_name = "Sync jobs"

    def ready(self) -> None:
        # Register the tasks in every process, not only in workers that autodiscover them: commerce nudges the
        # channel pushes by task name (commerce.outbox), and a web process should run them eagerly when asked to.
        # integrations sits below syncjobs: its health computation asks this app for its jobs through a source.
        from integrations.health_selectors import health_source_register

        from . import tasks  # noqa: F401
        from .health_facts import sync_job_facts

        health_source_register(sync_job_facts)
