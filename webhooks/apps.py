from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "webhooks"

    def ready(self) -> None:
        # integration.* events come from integrations/health.py as a signal (integrations sits below webhooks):
        # publish each one, in the sender's transaction, like any other event.
        from integrations.health import integration_event

        from .events import publish_integration_event

        integration_event.connect(publish_integration_event, dispatch_uid="webhooks.publish_integration_event")
