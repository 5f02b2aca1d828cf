from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "integrations"

    def ready(self) -> None:
        # Fail at boot, with a clear message, if a key in ENCRYPTION_KEYS is malformed.
        from .encryption import key_ring

        key_ring()
