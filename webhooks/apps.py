from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "webhooks"

    def ready(self) -> None:
        # integration.* events come from integrations/health.py as a signal (integrations sits below webhooks):
        # publish each one, in the sender's transaction, like any other event.
        from integrations.health import integration_event

        from .events import publish_integration_event

        integration_event.connect(publish_integration_event, dispatch_uid="webhooks.publish_integration_event")

        # Likewise the health computation (integrations/health_selectors.py) reads webhooks through sources.
        from integrations.health_selectors import health_source_register

        from .health_facts import endpoint_facts, incoming_webhook_facts

        health_source_register(incoming_webhook_facts)
        health_source_register(endpoint_facts)
