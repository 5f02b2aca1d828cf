from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "webhooks"

    def ready(self) -> None:
        # Every floor publishes through integrations/events.py (webhooks sits above them); this app records the
        # events as deliveries, in the publisher's transaction.
        from integrations.events import events_recorder_install

        from . import events

        events_recorder_install(publish=events.publish, publish_many=events.publish_many)

        # Likewise the health computation (integrations/health_selectors.py) reads webhooks through sources.
        from integrations.health_selectors import health_source_register

        from .health_facts import endpoint_facts, incoming_webhook_facts

        health_source_register(incoming_webhook_facts)
        health_source_register(endpoint_facts)

        # Automation platforms (REST hooks) subscribe endpoints through the port connectors declare.
        from connectors.rest_hooks import rest_hooks_install

        from .outbound.rest_hooks import EndpointRestHooks

        rest_hooks_install(EndpointRestHooks())
