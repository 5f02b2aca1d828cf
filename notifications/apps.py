from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    """Alerts to people: rules, conditions and notices (a floor above the pipelines whose events it hears)."""

    name = "notifications"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The pipelines publish through integrations/events.py; this app hears the events its triggers name,
        # in the publisher's transaction (the same port the webhooks app records deliveries through).
        from integrations.events import events_subscriber_add

        from .services import event_heard
        from .triggers import EVENT_TYPES

        events_subscriber_add("notifications", event_types=EVENT_TYPES, subscriber=event_heard)

        # Chat commands (a slash command) reach health and syncs through the port connectors declare.
        from connectors.chatops import chat_commands_install

        from .chatops import chat_command_answer

        chat_commands_install(chat_command_answer)
