from django.apps import AppConfig


class SyncjobsConfig(AppConfig):
    name = "syncjobs"

    def ready(self) -> None:
        # integrations sits below syncjobs: its health computation asks this app for its jobs through a source.
        from integrations.health_selectors import health_source_register

        from .health_facts import sync_job_facts

        health_source_register(sync_job_facts)
