from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "webhooks"

    def ready(self) -> None:
        # Every floor publishes through integrations/events.py (webhooks sits above them); this app records the
        # events as deliveries, in the publisher's transaction.
        from integrations.events import events_recorder_install

        from . import events

        events_recorder_install(publish=events.publish, publish_many=events.publish_many)
