from django.apps import AppConfig


class SyncjobsConfig(AppConfig):
    name = "syncjobs"
