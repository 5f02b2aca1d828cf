from django.apps import AppConfig


class SyncjobsConfig(AppConfig):
    name = "syncjobs"
    verbose_name = "Sync jobs"
