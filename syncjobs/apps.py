from django.apps import AppConfig


class SyncjobsConfig(AppConfig):
    name = "syncjobs"
    verbose_name = "Sync jobs"

    def ready(self) -> None:
        # Register the tasks in every process, not only in workers that autodiscover them: commerce nudges the
        # channel pushes by task name (commerce.outbox), and a web process should run them eagerly when asked to.
        from . import tasks  # noqa: F401
