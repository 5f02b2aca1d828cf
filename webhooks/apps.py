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

        # The receive view's per-process cache of integrations by route key (inbound/route_cache.py).
        from django.db.models.signals import post_delete, post_save

        from integrations.models import Integration

        from .inbound.route_cache import integration_changed

        post_save.connect(integration_changed, sender=Integration, dispatch_uid="webhook-route-cache-save")
        post_delete.connect(integration_changed, sender=Integration, dispatch_uid="webhook-route-cache-delete")

        # Automation platforms (REST hooks) subscribe endpoints through the port connectors declare.
        from connectors.rest_hooks import rest_hooks_install

        from .outbound.rest_hooks import EndpointRestHooks

        rest_hooks_install(EndpointRestHooks())
