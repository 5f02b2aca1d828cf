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

        # Every integration has its schedules (schedules.py): made as it is created, and after every migrate,
        # which is how a job type added to the cadence table reaches the integrations that existed before it.
        from django.db.models.signals import post_migrate, post_save

        from integrations.models import Integration

        post_save.connect(_integration_saved, sender=Integration, dispatch_uid="syncjobs.schedules_ensure")
        post_migrate.connect(_migrated, sender=self, dispatch_uid="syncjobs.schedules_ensure_all")


def _integration_saved(sender, instance, created: bool, update_fields=None, raw: bool = False, **kwargs) -> None:
    if raw:  # loaddata: the backup brings the schedules it had
        return
    if created or update_fields is None or "provider" in update_fields:
        from .schedules import schedules_ensure

        schedules_ensure([instance])


def _migrated(sender, using: str = "default", **kwargs) -> None:
    from django.db import connections

    from .models import SyncSchedule
    from .schedules import schedules_ensure

    if SyncSchedule._meta.db_table in connections[using].introspection.table_names():  # not migrated back
        schedules_ensure()
