from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "integrations"

    def ready(self) -> None:
        # Fail at boot, with a clear message, if a key in ENCRYPTION_KEYS is malformed.
        from celery.signals import worker_ready, worker_shutdown
        from django.core.signals import request_started

        from . import key_ring_reports
        from .encryption import key_ring

        key_ring()
        # Each web process and worker records which keys it holds, for rotate_encryption_keys to check.
        request_started.connect(key_ring_reports.report_on_request, dispatch_uid="integrations.key_ring_web")
        worker_ready.connect(key_ring_reports.report_on_worker_ready, dispatch_uid="integrations.key_ring_worker")
        worker_shutdown.connect(key_ring_reports.forget_on_worker_shutdown,
                                dispatch_uid="integrations.key_ring_worker_gone")
